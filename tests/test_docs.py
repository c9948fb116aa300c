"""The documentation names only what the repository has.

README.md, config/README.md, profiles/*/README.md and docs/*.md are read as text: every
repository path they mention in code (inline spans and fenced blocks) or link to must exist,
and every option they pass to a `scripts/NAME.py` or `bench/NAME.py` must be one the
script's click command defines. Options are read from the scripts' source with `ast` (the
click decorators, and the shared ones of `idunlearn.cli`), not by running the scripts, which
would import torch.
"""

from __future__ import annotations

import ast
import os
import re
import shlex
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = sorted(
    [ROOT / "README.md", ROOT / "config" / "README.md"]
    + list((ROOT / "profiles").glob("*/README.md"))
    + list((ROOT / "docs").glob("*.md"))
)
# A mention is a repository path when it starts with one of these; output folders
# (results/, logs/, benchmarks/, resources/) and the user's own paths are not checked.
TOP_LEVEL = (
    "bench/",
    "ci/",
    "config/",
    "docs/",
    "envs/",
    "profiles/",
    "scripts/",
    "src/",
    "tests/",
    "workflow/",
)
TOP_FILES = ("Snakefile", "pyproject.toml", "constraints.txt", "README.md")
# Patterns and placeholders, not paths: `{scenario}`, `*.smk`, `<file>`, `...`, `STEP.py`.
NOT_A_PATH = re.compile(r"[{}*<>]|\.\.\.|(^|/)[A-Z][A-Z_]*\.py$")
FENCE = re.compile(r"^[ \t]*```[^\n]*\n(.*?)^[ \t]*```", re.M | re.S)
PARAGRAPH = re.compile(r"\n[ \t]*\n")
INLINE = re.compile(r"`([^`]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
SCRIPT = re.compile(r"^(scripts|bench)/\w+\.py$")
OPTION = re.compile(r"^--?[A-Za-z][\w-]*")
COMMAND_END = {"&&", "||", "|", ";", ">", "2>", ">>"}


def code_texts(text: str) -> Iterator[str]:
    """The document's fenced blocks, one logical line each (backslash continuations
    joined), then its inline code spans (which may wrap, never across a paragraph)."""
    for block in FENCE.findall(text):
        yield from re.sub(r"\\\n", " ", block).splitlines()
    for paragraph in PARAGRAPH.split(FENCE.sub("", text)):
        for span in INLINE.findall(paragraph):
            yield span.replace("\n", " ")


def words(code: str) -> list[str]:
    """Shell words of a code text; a text that is no shell line splits at blanks."""
    try:
        return shlex.split(code, comments=True)
    except ValueError:
        return code.split()


def repo_path(word: str) -> str | None:
    """The repository path a word names (`--configfile=config/x.yaml` too), else None;
    a path above the repository (`../x`) is named too: it is never in the repository."""
    word = word.split("=")[-1].strip("()[],;:'\"").removeprefix("./").rstrip(".")
    if not word.startswith((*TOP_LEVEL, "../")) and word not in TOP_FILES:
        return None
    return None if NOT_A_PATH.search(word) else word


def mentioned_paths(text: str, folder: Path) -> set[str]:
    """Repository-relative paths a document in `folder` names in code, and the targets
    of its relative links (resolved from that folder)."""
    paths = {p for code in code_texts(text) for w in words(code) if (p := repo_path(w))}
    for target in LINK.findall(text):
        target = target.split("#")[0]
        if target and not re.match(r"^[a-z]+:", target):
            paths.add(os.path.relpath(folder / target, ROOT))
    return paths


def script_calls(code: str) -> Iterator[tuple[str, list[str]]]:
    """(script, options) of every `scripts/NAME.py` or `bench/NAME.py` the code text runs:
    the options are the words after it up to the end of its command."""
    tokens = words(code)
    for i, token in enumerate(tokens):
        if not SCRIPT.match(token) or NOT_A_PATH.search(token):
            continue
        options = []
        for word in tokens[i + 1 :]:
            if word in COMMAND_END:
                break
            if match := OPTION.match(word):
                options.append(match.group())
        yield token, options


def option_names(node: ast.AST) -> set[str]:
    """The option strings of every `click.option(...)` call under an AST node
    (`--a/--b` boolean pairs give both)."""
    names: set[str] = set()
    for call in ast.walk(node):
        if (
            isinstance(call, ast.Call)
            and isinstance(call.func, ast.Attribute)
            and call.func.attr == "option"
        ):
            for arg in call.args:
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str):
                    names |= {n.strip() for n in arg.value.split("/") if n.startswith("-")}
    return names


def shared_options() -> dict[str, set[str]]:
    """Option strings each top-level name of idunlearn.cli adds, following the names it
    uses (`seeded` adds `seed_option` and `deterministic_option`)."""
    tree = ast.parse((ROOT / "src" / "idunlearn" / "cli.py").read_text())
    defs: dict[str, ast.AST] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            defs[node.name] = node
        elif isinstance(node, ast.Assign):
            defs |= {t.id: node for t in node.targets if isinstance(t, ast.Name)}
    uses = {
        name: {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and n.id in defs}
        for name, node in defs.items()
    }
    options: dict[str, set[str]] = {}
    for name in defs:
        seen, todo = set(), [name]
        while todo:
            if (current := todo.pop()) not in seen:
                seen.add(current)
                todo += uses[current]
        options[name] = set().union(*(option_names(defs[n]) for n in seen))
    return options


def script_options(script: str, shared: dict[str, set[str]]) -> set[str]:
    """What `--help` of a script lists: its own click options, those of the idunlearn.cli
    decorators it uses, and --help."""
    tree = ast.parse((ROOT / script).read_text())
    used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id in shared}
    return option_names(tree) | set().union(*(shared[n] for n in used)) | {"--help"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_repository_path_a_document_names_exists(doc: Path) -> None:
    paths = mentioned_paths(doc.read_text(), doc.parent)
    missing = sorted(p for p in paths if p.startswith("../") or not (ROOT / p).exists())
    assert not missing, f"{doc.relative_to(ROOT)} names paths the repository lacks: {missing}"


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_option_a_document_passes_to_a_script_is_one_it_defines(doc: Path) -> None:
    shared = shared_options()
    unknown = []
    for code in code_texts(doc.read_text()):
        for script, options in script_calls(code):
            assert (ROOT / script).is_file(), f"{doc.relative_to(ROOT)}: no {script}"
            known = script_options(script, shared)
            unknown += [f"{script} {o}" for o in options if o not in known]
    assert not unknown, f"{doc.relative_to(ROOT)} passes options no script defines: {unknown}"


def test_the_checks_see_the_mentions_they_are_meant_to_check() -> None:
    """The extraction finds wrapped spans, continued lines and link targets, and skips
    patterns, placeholders and output folders: a check that finds nothing passes anything."""
    text = (
        "Run `python bench/eg3d_step.py --code-root\nresources/code/eg3d --device cuda`, see"
        " `workflow/rules/*.smk`, `results/tables/x.md`, `scripts/STEP.py`,"
        " `config/{name}.yaml`, `../notes.md` and [the plot](x.png), [up](../../y.md).\n\n"
        "```bash\npython scripts/render.py --generator g.pt \\\n    --seeds 0,1 && ls src/\n```\n"
    )
    codes = list(code_texts(text))
    calls = [call for code in codes for call in script_calls(code)]
    assert calls == [
        ("scripts/render.py", ["--generator", "--seeds"]),
        ("bench/eg3d_step.py", ["--code-root", "--device"]),
    ]
    paths = mentioned_paths(text, ROOT / "docs")
    assert paths == {
        "scripts/render.py",
        "src/",
        "bench/eg3d_step.py",
        "../notes.md",
        "docs/x.png",
        "../y.md",
    }
    shared = shared_options()
    assert {"--seed", "--deterministic", "--nondeterministic"} <= shared["seeded"]
    assert {"--device", "--seeds", "--help"} <= script_options("scripts/render.py", shared)
    assert "--no-such-option" not in script_options("scripts/render.py", shared)
