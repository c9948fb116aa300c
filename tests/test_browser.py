"""The Snakemake report of the tiny run, opened in headless Chromium: every table and
image it holds must be there and load, checked by a script running in the page."""

import html
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TINY = ROOT / "tests" / "config" / "config.yaml"
CHROMIUM = next(
    (shutil.which(name) for name in ("chromium", "chromium-browser") if shutil.which(name)), None
)
# Root, no network, no display: the flags Chromium needs to start and stay offline.
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
)
# Runs in the report page: loads every image result and parses every HTML result from
# the report's own `results` table, then writes what it found into the page.
CHECK = """
(async () => {
  const text = (uri) => {
    const comma = uri.indexOf(",");
    const meta = uri.slice(0, comma), payload = uri.slice(comma + 1);
    if (!meta.endsWith(";base64")) return decodeURIComponent(payload);
    return new TextDecoder().decode(Uint8Array.from(atob(payload), (c) => c.charCodeAt(0)));
  };
  const found = {};
  for (const [path, entry] of Object.entries(results)) {
    const item = {mime: entry.mime_type};
    if (entry.mime_type.startsWith("image/")) {
      const image = new Image();
      item.loaded = await new Promise((done) => {
        image.onload = () => done(image.naturalWidth > 0 && image.naturalHeight > 0);
        image.onerror = () => done(false);
        image.src = entry.data_uri;
      });
    } else if (entry.mime_type === "text/html") {
      const page = new DOMParser().parseFromString(text(entry.data_uri), "text/html");
      item.rows = Array.from(page.querySelectorAll("table")).map(
        (table) => table.querySelectorAll("tbody tr").length);
      item.filled = Array.from(page.querySelectorAll("td")).filter(
        (cell) => cell.textContent.trim()).length;
    }
    found[path] = item;
  }
  const out = document.createElement("pre");
  out.id = "idunlearn-check";
  out.textContent = JSON.stringify({results: found, shown: document.body.innerText});
  document.body.appendChild(out);
})();
"""

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(CHROMIUM is None, reason="no chromium (ci/browser/install.sh installs it)"),
]


def chromium(profile: Path, *args: str) -> subprocess.CompletedProcess:
    profile.mkdir()  # a new, empty profile each time
    command = [CHROMIUM, *FLAGS, f"--user-data-dir={profile}", *args]
    return subprocess.run(command, capture_output=True, text=True, timeout=180)


def page_check(report: Path, tmp_path: Path) -> dict:
    """Run CHECK inside a copy of the report; its findings, read back from the DOM."""
    checked = tmp_path / "checked.html"
    head, body_end, tail = report.read_text().rpartition("</body>")  # scripts quote "</body>"
    checked.write_text(f"{head}<script>{CHECK}</script>{body_end}{tail}")
    dom = chromium(
        tmp_path / "profile-check",
        "--virtual-time-budget=60000",
        "--dump-dom",
        checked.as_uri(),
    )
    found = re.search(r'<pre id="idunlearn-check">(.*?)</pre>', dom.stdout, re.S)
    assert found, dom.stderr[-2000:]
    return json.loads(html.unescape(found.group(1)))


def expected_results(run: Path) -> list[str]:
    """What a user must find: tables, figures, each identity's page, the world's."""
    results = run / "results"
    paths = [*results.glob("report/tables/*.html"), *results.glob("report/identities/*/*.html")]
    paths += [*results.glob("figures/*.png"), *results.glob("render/*/*/*.png")]
    paths += [*results.glob("evaluate/*/*/*.png"), results / "report" / "quality.html"]
    paths.append(results / "world" / "targets_grid.png")
    return sorted(str(path.relative_to(run)) for path in paths)


def test_the_report_opens_with_every_table_and_image_loaded(tiny_run, tmp_path):
    report = tiny_run / "report.html"
    made = subprocess.run(
        [sys.executable, "-m", "snakemake", "-s", str(ROOT / "Snakefile")]
        + ["--configfile", str(TINY), "--report", str(report)],
        cwd=tiny_run,
        capture_output=True,
        text=True,
    )
    assert made.returncode == 0, made.stderr[-3000:]
    check = page_check(report, tmp_path)
    results = check["results"]
    expected = expected_results(tiny_run)
    assert len(expected) > 20 and sorted(set(expected) - set(results)) == []
    for name in ("table1", "table2", "table3", "table4"):
        assert f"results/report/tables/{name}.html" in results
    for path, item in results.items():
        if item["mime"].startswith("image/"):
            assert item["loaded"], f"broken image in the report: {path}"
        elif item["mime"] == "text/html":
            assert item["rows"] and min(item["rows"]) > 0, f"empty table in the report: {path}"
            assert item["filled"] > 0, path
    for category in ("Tables", "Figures", "Identities", "World"):
        assert category in check["shown"], f"the report's menu lacks {category}"
    shot = tmp_path / "first_page.png"
    chromium(
        tmp_path / "profile-shot", f"--screenshot={shot}", "--window-size=1280,900", report.as_uri()
    )
    assert shot.stat().st_size > 10_000  # a rendered page, not a blank one
