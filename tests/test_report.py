"""Tables and figures from small synthetic metrics and strips made here."""

from __future__ import annotations

import importlib.util
import json
import math
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from PIL import Image
from scipy.stats import t as t_dist

from idunlearn import report
from idunlearn.io import ArtefactError, UserError
from idunlearn.stats import PairedTest

ROOT = Path(__file__).resolve().parents[1]
PAPER = ROOT / "config" / "paper_numbers.yaml"
METHODS = ["baseline", "extrapolated", "adjacency", "guide"]
ABLATIONS = ["alpha0", "alpha10", "alpha15", "local", "local_global", "d-15", "d0", "d30"]
IDENTITIES = ["01", "02", "03"]
SETTING = report.Setting(
    generator="synthetic", image_size=64, unlearn_steps=5, fid_samples=50, reduction="mean"
)


def no_face(views_others: int = 6) -> dict[str, int]:
    """No-face counts of a run where every view had a face (3 source views)."""
    counts = dict.fromkeys(report.NO_FACE_COLUMNS[:4], 0)
    return counts | {"views_source": 3, "views_others": views_others}


def make_metrics(methods: list[str] = METHODS, ablations: list[str] = ABLATIONS) -> pd.DataFrame:
    """Three identities per scenario; the value of a cell encodes its position, so means are
    known: for identity k (1-3) and method index j, id = 0.1 k + 0.01 j, fid_pre = 10 k + j."""
    rows = []
    for scenario in ("random", "ind", "ood"):
        names = methods + (ablations if scenario == "ood" else [])
        for k, identity in enumerate(IDENTITIES, start=1):
            for j, method in enumerate(names):
                rows.append(
                    {
                        "scenario": scenario,
                        "identity": f"{scenario}{identity}",
                        "method": method,
                        "id": 0.1 * k + 0.01 * j,
                        "id_others": math.nan if scenario == "random" else 0.2 * k,
                        "id_source_before": 0.9,
                        "id_source_after": 0.1 * k,
                        "fid_pre": 10.0 * k + j,
                        "fid_real": 20.0 + k,
                        "dfid_real": 1.0 * k**2,
                    }
                    | no_face(0 if scenario == "random" else 6)
                )
    return pd.DataFrame(rows)


def write_csv(frame: pd.DataFrame, path: Path) -> Path:
    frame.to_csv(path, index=False)
    return path


def strip(colours: list[tuple[int, int, int]], side: int = 64, scale: int = 2) -> np.ndarray:
    """A strip as evaluation writes it: 4 tiles, 2-px white gaps, then scaled by `scale`."""
    canvas = np.full((side + 4, 4 * (side + 2) + 2, 3), 255, np.uint8)
    for j, colour in enumerate(colours):
        canvas[2 : 2 + side, 2 + j * (side + 2) : 2 + j * (side + 2) + side] = colour
        canvas[2 + side // 4, 2 + j * (side + 2) : 2 + j * (side + 2) + side] = 0  # a dark line
    return canvas.repeat(scale, axis=0).repeat(scale, axis=1)


def write_strips(metrics: pd.DataFrame, root: Path) -> Path:
    """One strip per run, coloured by tile and method, so the figures show something."""
    methods = list(dict.fromkeys(metrics["method"]))
    for run in metrics.itertuples():
        j = methods.index(run.method)
        shade = 40 + 15 * j
        colours = [(200, 160, 120), (shade, 90, 200), (180, 180, 180), (shade, 200, 90)]
        path = report.strip_path(metrics, root, run.scenario, run.identity, run.method)
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(strip(colours)).save(path)
    return root


def load_cli(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


# --- aggregation --------------------------------------------------------------------------


def test_summarise_matches_hand_computed_mean_and_std():
    summary = report.summarise(make_metrics()).set_index(["scenario", "method", "metric"])
    cell = summary.loc[("random", "baseline", "id")]
    # ids 0.1, 0.2, 0.3: mean 0.2, sample std sqrt((0.01 + 0 + 0.01) / 2) = 0.1
    assert cell["n"] == 3
    assert cell["mean"] == pytest.approx(0.2)
    assert cell["std"] == pytest.approx(0.1)
    # dfid_real 1, 4, 9: mean 14/3, std sqrt(((11/3)^2 + (2/3)^2 + (13/3)^2) / 2) = sqrt(147) / 3
    cell = summary.loc[("ood", "guide", "dfid_real")]
    assert cell["mean"] == pytest.approx(14 / 3)
    assert cell["std"] == pytest.approx(math.sqrt(147) / 3)
    # fid_pre of guide (j = 3): 13, 23, 33
    assert summary.loc[("ind", "guide", "fid_pre"), "mean"] == pytest.approx(23.0)
    # no ID_others in the random scenario: no identities counted, no mean
    others = summary.loc[("random", "baseline", "id_others")]
    assert others["n"] == 0
    assert math.isnan(others["mean"])


def test_ablation_names_sort_by_value_and_read_as_parameters():
    names = ["d45", "baseline", "d-15", "d0", "d15", "alpha10", "alpha0", "alpha2.5", "dfid"]
    assert report.ablation_methods(names, "d") == ["d-15", "d0", "d15", "d45"]
    assert report.ablation_methods(names, "alpha") == ["alpha0", "alpha2.5", "alpha10"]
    assert report.method_label("alpha15") == "alpha_max = 15"
    assert report.method_label("d-15") == "d = -15"
    assert report.method_label("guide") == "+ L_global (GUIDE)"
    assert report.method_label("cascaded") == "Cascaded GAN unlearning"
    assert report.method_label("adapter") == "Adapter unlearning (LEGATO)"
    assert report.method_label("sugar") == "SUGAR (WACV 2026)"
    assert report.method_label("unknown_method") == "unknown_method"


def test_paper_numbers_file_holds_tables_1_to_4_and_the_sample():
    paper = report.read_paper_numbers(PAPER)
    assert paper.groupby("table").size().to_dict() == {
        "table1": 36,
        "table2": 16,
        "table3": 10,
        "table4": 4,
        "readme": 8,
        "guide_sample": 8,
    }
    row = paper.set_index(["table", "scenario", "method", "metric"]).loc[
        ("table1", "random", "baseline", "id")
    ]
    assert (row["paper_mean"], row["paper_std"]) == (0.19, 0.09)


def test_paper_numbers_sit_beside_ours():
    summary = report.summarise(make_metrics(METHODS + ["cascaded"]))
    paper = report.read_paper_numbers(PAPER)
    spec = report.TABLES[0]
    table = report.build_table(summary, paper, spec, ["random", "ood"], METHODS + ["cascaded"])
    cells = table.set_index(["scenario", "method", "metric"])
    assert len(table) == 2 * 5 * 3
    baseline = cells.loc[("random", "baseline", "id")]
    assert baseline["mean"] == pytest.approx(0.2)
    assert (baseline["paper_mean"], baseline["paper_std"]) == (0.19, 0.09)
    assert cells.loc[("ood", "guide", "fid_pre"), "paper_mean"] == 7.88
    # no paper number for a method the paper did not run
    assert math.isnan(cells.loc[("ood", "cascaded", "id"), "paper_mean"])
    frame = report.format_table(table, spec)
    row = frame.set_index("Method").loc["Baseline"]
    # n = 3: 0.2 +- t_{2, 0.975} 0.1 / sqrt(3) = 0.2 +- 4.3027 * 0.0577 = 0.2 +- 0.2484, wider
    # than the values' range (a percentile bootstrap would give it: [0.1, 0.3])
    assert row["Random ID"] == "0.20 ± 0.10 [-0.05, 0.45]"
    assert row["Random n"] == "3"
    assert row["Random ID (paper)"] == "0.19 ± 0.09"
    assert frame.set_index("Method").loc["Cascaded GAN unlearning", "OOD ID (paper)"] == ""


def test_ablation_paper_numbers_match_by_method_whatever_the_scenario():
    metrics = make_metrics().replace({"scenario": {"ood": "ind", "ind": "ood"}})
    summary = report.summarise(metrics)
    spec = report.TABLES[2]
    table = report.build_table(
        summary, report.read_paper_numbers(PAPER), spec, ["ind"], ["alpha0", "alpha15"]
    )
    cells = table.set_index(["method", "metric"])
    assert cells.loc[("alpha15", "id"), "paper_mean"] == 0.0878
    assert cells.loc[("alpha15", "id_others"), "paper_std"] == 0.0692


def test_cells_format_like_the_paper():
    assert report.mean_std(0.2, 0.1, 2) == "0.20 ± 0.10"
    assert report.mean_std(0.1205, math.nan, 4) == "0.1205"
    assert report.mean_std(math.nan, math.nan, 2) == ""


# --- uncertainty --------------------------------------------------------------------------


def test_summary_cells_carry_their_ci():
    summary = report.summarise(make_metrics()).set_index(["scenario", "method", "metric"])
    cell = summary.loc[("ind", "guide", "fid_pre")]  # 13, 23, 33: mean 23, std 10
    half = 4.302653 * 10 / math.sqrt(3)  # t_{2, 0.975} s / sqrt(n)
    assert cell["n"] == 3
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((23 - half, 23 + half))
    assert math.isnan(summary.loc[("random", "guide", "id_others"), "ci_low"])


def test_cells_show_n_and_no_interval_for_one_identity(tmp_path):
    frame = make_metrics()
    frame.loc[frame["identity"] == "ood02", "id_others"] = math.nan  # ID_others: n = 2
    metrics = write_csv(frame, tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path)
    row = (tmp_path / "table2.md").read_text().splitlines()[4]
    # id_others 0.2 k for k = 1, 3: mean 0.4, std sqrt(0.08); at n = 2 the t interval is
    # mean +- 12.706 * std / sqrt(2) = 0.4 +- 2.541
    assert row.startswith("| Baseline | 3 | 0.20 ± 0.10 [-0.05, 0.45] | 0.12 ± 0.06 | 0.08 |")
    assert "| 0.40 ± 0.28 [-2.14, 2.94] (n=2) | 0.28 ± 0.08 | 0.41 |" in row
    one = write_csv(frame[frame["identity"].str.endswith("01")], tmp_path / "one.csv")
    report.write_tables(one, PAPER, METHODS, "ood", SETTING, tmp_path)
    row = (tmp_path / "table1.md").read_text().splitlines()[4]
    assert row.startswith("| Baseline | 1 | 0.10 | 0.19 ± 0.09 | 10.00 | 11.73 ± 2.74 |")


# --- claims -------------------------------------------------------------------------------


def claims_of(frame: pd.DataFrame) -> pd.DataFrame:
    paper = report.read_paper_numbers(PAPER)
    return report.build_claims(frame, paper, ["random", "ind", "ood"], "ood")


def with_extrapolated_gain(frame: pd.DataFrame, gains: list[float]) -> pd.DataFrame:
    """extrapolated's ID set to baseline's minus gains[k - 1] for identity k, everywhere."""
    frame = frame.copy()
    base = frame[frame["method"] == "baseline"].set_index(["scenario", "identity"])["id"]
    rows = frame["method"] == "extrapolated"
    keys = list(zip(frame.loc[rows, "scenario"], frame.loc[rows, "identity"], strict=True))
    frame.loc[rows, "id"] = [base[key] - gains[int(key[1][-1]) - 1] for key in keys]
    return frame


def test_claims_verdicts_follow_the_holm_adjusted_paired_t_test():
    frame = with_extrapolated_gain(make_metrics(), [0.05, 0.06, 0.07])
    claims = claims_of(frame).set_index(["metric", "method", "versus", "scenario"])
    cell = claims.loc[("id", "extrapolated", "baseline", "random")]
    assert (cell["n"], cell["mean_diff"]) == (3, pytest.approx(-0.06))
    # std 0.01: t = -0.06 / (0.01 / sqrt(3)) = -10.39 on 2 df; interval -0.06 +- 4.3027 * 0.01
    # / sqrt(3)
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((-0.08484, -0.03516), abs=1e-5)
    assert cell["p"] == pytest.approx(0.009133, rel=1e-3)
    # 15 rows tested; 6 have smaller p (constant differences), so Holm multiplies by 15 - 6:
    # 0.082 > 0.05, not resolved though the row's own interval excludes 0
    assert cell["p_holm"] == pytest.approx(9 * cell["p"])
    assert cell["verdict"] == "not resolved"
    # at 4 identities t = -12 would pass Bonferroni's two-sided 0.05 / 15 (t_3: 8.58; 3: t_2 17.3)
    assert cell["n_needed"] == 4
    assert cell["paper_diff"] == pytest.approx(0.12 - 0.19)
    tight = with_extrapolated_gain(make_metrics(), [0.059, 0.06, 0.061])
    cell = (
        claims_of(tight)
        .set_index(["metric", "method", "scenario"])
        .loc[("id", "extrapolated", "ind")]
    )
    assert cell["p_holm"] < 0.05 and cell["verdict"] == "holds"
    assert math.isnan(cell["n_needed"])
    # guide (j = 3) minus adjacency (j = 2) FID_pre: +1 for every identity: reversed
    cell = claims.loc[("fid_pre", "guide", "adjacency", "ood")]
    assert (cell["mean_diff"], cell["verdict"]) == (pytest.approx(1.0), "reversed")
    # ID_others is 0.2 k for every method: a zero difference is not resolved
    cell = claims.loc[("id_others", "adjacency", "extrapolated", "ood")]
    assert (cell["mean_diff"], cell["verdict"]) == (0.0, "not resolved")
    assert cell["paper_diff"] == pytest.approx(0.14 - 0.15)  # Table 2
    assert math.isnan(claims.loc[("id_others", "adjacency", "extrapolated", "ind"), "paper_diff"])
    # no ID_others in Random: that claim is left out there
    assert ("id_others", "adjacency", "extrapolated", "random") not in claims.index
    # ablations on the ablation scenario only, matched to Tables 3-4 by method
    cell = claims.loc[("fid_pre", "local_global", "local", "ood")]
    assert cell["paper_diff"] == pytest.approx(4.63 - 9.52)
    alpha = claims.xs(("id", "alpha15"), level=("metric", "method"))
    assert list(alpha.index.get_level_values("versus")) == ["alpha0", "alpha10"]
    assert alpha["mean_diff"].tolist() == pytest.approx([0.02, 0.01])  # j = 6 vs 4, 5
    assert set(claims.index.get_level_values("scenario")[claims["claim"] == "alpha_max"]) == {"ood"}


def difference(n: int, mean: float, std: float) -> PairedTest:
    """A paired test of this n, mean and std (interval and p do not matter here)."""
    return PairedTest(n, mean, std, math.nan, math.nan, math.nan)


def scan_needed(mean: float, std: float, start: int, family: int) -> int:
    """The identities to hold, by trying every n: what the bisection must agree with."""
    n = start
    while abs(mean) * math.sqrt(n) / std < t_dist.ppf(1 - 0.05 / family / 2, n - 1):
        n += 1
    return n


def test_identities_to_hold_are_the_least_n_reaching_bonferronis_level():
    # mean -0.1, std 0.2: |t| = sqrt(n) / 2 reaches t_{n-1, 0.975} at n = 18 (2.121 > 2.110;
    # at 17: 2.062 < 2.120)
    assert report.identities_needed(difference(8, -0.1, 0.2), "not resolved", 1) == 18
    for n, mean, std, family in ((8, -0.1, 0.2, 45), (3, -0.01, 0.3, 15), (5, -2.0, 1.0, 45)):
        expected = scan_needed(mean, std, n, family)
        assert report.identities_needed(difference(n, mean, std), "not resolved", family) == (
            expected
        )
    # two identities have no verdict; the count starts at the minimum
    needed = report.identities_needed(difference(2, -0.1, 0.2), "too few identities", 1)
    assert needed == 18 and report.MIN_IDENTITIES == 3
    # none on the wrong side (more identities would not make it hold), none once resolved,
    # none without a spread to extrapolate from
    assert math.isnan(report.identities_needed(difference(8, 0.1, 0.2), "not resolved", 1))
    assert math.isnan(report.identities_needed(difference(8, -0.1, 0.2), "holds", 1))
    assert math.isnan(report.identities_needed(difference(8, 0.1, 0.2), "reversed", 1))
    assert math.isnan(
        report.identities_needed(difference(1, -0.1, math.nan), "too few identities", 1)
    )
    assert math.isnan(report.identities_needed(difference(8, -0.1, 0.0), "not resolved", 1))


def test_claims_verdict_needs_three_identities_and_a_holm_p_below_alpha():
    assert report.verdict(1, -0.2, math.nan) == "too few identities"
    assert report.verdict(2, -0.2, 0.0) == "too few identities"
    assert report.verdict(3, -0.2, 0.049) == "holds"
    assert report.verdict(3, 0.2, 0.049) == "reversed"
    assert report.verdict(3, -0.2, 0.05) == "not resolved"
    assert report.verdict(8, -0.2, math.nan) == "not resolved"


def test_claims_below_three_identities_get_no_verdict_and_stay_out_of_holms_family(tmp_path):
    frame = with_extrapolated_gain(make_metrics(), [0.05, 0.06, 0.07])
    frame = frame[frame["identity"] != "random03"]  # Random: 2 identities
    metrics = write_csv(frame, tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path)
    tidy = pd.read_csv(tmp_path / "claims.csv").set_index(["metric", "method", "scenario"])
    random = tidy.xs("random", level="scenario")
    assert set(random["verdict"]) == {"too few identities"} and set(random["n"]) == {2}
    assert random["p_holm"].isna().all() and random["p"].notna().all()
    # the 12 rows of InD and OOD form the family: 5 have smaller p, so InD's and OOD's tied
    # 0.00913 are multiplied by 12 - 5 (the next one's 6 is lifted to it)
    for scenario in ("ind", "ood"):
        cell = tidy.loc[("id", "extrapolated", scenario)]
        assert cell["p_holm"] == pytest.approx(7 * cell["p"], rel=1e-4)
    lines = (tmp_path / "claims.md").read_text().splitlines()
    assert "across the table's 12 tested rows" in lines[0] and "0.05 / 15" in lines[0]
    rows = {tuple(c.strip() for c in line.split("|")[2:4]): line for line in lines[4:]}
    # gains 0.05, 0.06: t = 0.055 sqrt(n) / 0.00707 passes t_{n-1} at 0.05 / 15 from n = 4
    assert rows[("Random", "+ extrapolated w_t - Baseline: ID")].endswith(
        "| 2 | -0.0550 [-0.1185, 0.0085] |  | too few identities | ~4 | -0.0700 |"
    )
    # FID_pre: +1 for both identities: no verdict, and on the wrong side for one
    assert (
        "|  | too few identities | diff > 0 |"
        in rows[("Random", "+ L_global (GUIDE) - + L_adj: FID_pre")]
    )


def test_claims_of_unconfigured_methods_are_left_out(tmp_path):
    frame = make_metrics(["baseline", "guide"], ablations=["local", "local_global"])
    claims = claims_of(frame)
    assert set(claims["claim"]) == {"global_ablation"}
    metrics = write_csv(frame, tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, ["baseline", "guide"], "ood", SETTING, tmp_path)
    lines = (tmp_path / "claims.md").read_text().splitlines()
    assert lines[0].startswith("Claims: each ordering the GUIDE paper states")
    assert "Setting: the embedded synthetic world" in lines[0]
    assert "paired t test" in lines[0] and "Holm's step-down method" in lines[0]
    assert "across the table's 2 tested rows" in lines[0] and "n < 3" in lines[0]
    assert lines[2] == (
        "| Claim | Scenario | Comparison | n | Difference [95% CI] | p (Holm) | Verdict "
        "| n to hold | Paper |"
    )
    # local_global (j = 7) minus local (j = 6) in the ood block (ablations after 2 methods):
    # +1 for every identity, no spread: t is infinite
    assert lines[4] == (
        "| L_global lowers FID_pre (Table 4) | OOD | L_local + L_global - L_local: FID_pre | 3 "
        "| +1.00 [1.00, 1.00] | <0.001 | reversed |  | -4.89 |"
    )
    # dFID_real is k^2 for every method: a zero difference, p = 1
    assert lines[5].endswith("| +0.00 [0.00, 0.00] | 1 | not resolved |  | -3.27 |")
    assert len(lines) == 6
    tidy = pd.read_csv(tmp_path / "claims.csv")
    assert list(tidy.columns) == report.CLAIM_COLUMNS


# --- no-face views and the setting --------------------------------------------------------


def test_no_face_views_are_named_in_the_tables(tmp_path):
    frame = make_metrics()
    run = (frame["method"] == "guide") & (frame["identity"] == "ood03")
    frame.loc[run, "no_face_source_after"] = 2
    frame.loc[run, "no_face_others_after"] = 5
    metrics = write_csv(frame, tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path)
    note = "guide ood/ood03 (source after 2/3, others after 5/6)"
    for name in ("table1", "table2"):
        caption = (tmp_path / f"{name}.md").read_text().splitlines()[0]
        assert "No face found by the evaluation detector" in caption and note in caption
    assert "No face" not in (tmp_path / "table3.md").read_text()  # guide is not a row there


def test_aggregate_keeps_no_face_counts_and_names_a_record_without_them(tmp_path):
    record = {key: 0.5 for key in report.VALUE_COLUMNS} | no_face()
    record |= {"scenario": "ood", "identity": "ood00", "method": "guide"}
    record["no_face_others_after"] = 4
    (tmp_path / "a.json").write_text(json.dumps(record))
    report.aggregate([str(tmp_path / "a.json")], {"alpha0": "guide"}, str(tmp_path / "all.csv"))
    table = pd.read_csv(tmp_path / "all.csv")
    assert table["no_face_others_after"].tolist() == [4, 4]
    assert table["views_others"].tolist() == [6, 6]
    del record["views_source"]
    (tmp_path / "b.json").write_text(json.dumps(record))
    with pytest.raises(ArtefactError, match=r"record .*b.json lacks key\(s\): views_source"):
        report.aggregate([str(tmp_path / "b.json")], {}, str(tmp_path / "all.csv"))


def test_captions_name_the_real_setting_and_its_camera():
    eg3d = report.Setting(
        generator="eg3d",
        image_size=512,
        unlearn_steps=1000,
        fid_samples=5000,
        reduction="sum",
        generator_file="ffhqrebalanced512-128.pkl",
        eval_identity="curricularface",
        second_identity="facenet",
    )
    text = eg3d.describe()
    assert text.startswith("Setting: EG3D (ffhqrebalanced512-128.pkl, 512 x 512)")
    assert "curricularface for ID, facenet as a second ID" in text
    assert "1000 unlearning steps, FID over 5000 samples" in text
    assert "summed over their draws (reference code)" in text
    assert "camera pivot of the reference code" in text  # no eg3d block: the code's default
    text = replace(eg3d, eval_detector="reference").describe()
    assert "curricularface on GUIDE's MTCNN crops for ID, facenet as a second ID" in text
    text = replace(eg3d, eg3d={"look_at": "eg3d", "noise_mode": "const"}).describe()
    assert "EG3D's own camera pivot" in text and "noise_mode const" in text
    with pytest.raises(UserError, match="setting generator must be synthetic or eg3d"):
        replace(eg3d, generator="stylegan")


def test_table2_has_the_reference_codes_numbers_beside_the_papers(tmp_path):
    metrics = write_csv(make_metrics(), tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path)
    lines = (tmp_path / "table2.md").read_text().splitlines()
    header = [cell.strip() for cell in lines[2].strip("|").split("|")]
    assert header[2:5] == ["ID", "ID (paper)", "ID (ref. code)"]
    rows = {line.split("|")[1].strip(): line.split("|") for line in lines[4:]}
    assert rows["Baseline"][5].strip() == "0.08" and rows["+ L_global (GUIDE)"][5].strip() == "0.02"
    assert rows["+ L_adj"][5].strip() == ""
    assert "KU-VGI/GUIDE @8c20348" in lines[0]
    tidy = pd.read_csv(tmp_path / "table2.csv").set_index(["method", "metric"])
    assert tidy.loc[("guide", "dfid_real"), "ref_mean"] == 3.331
    assert "ref_mean" not in pd.read_csv(tmp_path / "table1.csv").columns


# --- tables -------------------------------------------------------------------------------


def test_write_tables_writes_csv_markdown_and_latex(tmp_path):
    metrics = write_csv(make_metrics(), tmp_path / "all.csv")
    log = report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path / "tables")
    assert (
        len(log) == 7 and log[4] == "skipped guide_sample: no runs for it in scenario guide_sample"
    )
    assert log[5] == "skipped attacks: no attack columns in the metrics"
    assert all(line.startswith("wrote") for line in log[:4] + log[6:])
    for name in ("table1", "table2", "table3", "table4"):
        for ext in ("csv", "md", "tex"):
            assert (tmp_path / "tables" / f"{name}.{ext}").stat().st_size > 0

    tidy = pd.read_csv(tmp_path / "tables" / "table1.csv")
    numbers = ["n", "mean", "std", "ci_low", "ci_high", "paper_mean", "paper_std"]
    assert {"scenario", "method", "metric", *numbers} <= set(tidy.columns)
    assert all(pd.api.types.is_numeric_dtype(tidy[col]) for col in numbers)
    assert len(tidy) == 3 * 4 * 3
    cell = tidy.set_index(["scenario", "method", "metric"]).loc[("ood", "guide", "dfid_real")]
    # dfid_real 1, 4, 9: 14/3 +- 4.3027 sqrt(147) / 3 / sqrt(3) (to the CSV's 6 digits)
    assert (cell["ci_low"], cell["ci_high"]) == pytest.approx((-5.37286, 14.7062), rel=1e-5)

    markdown = (tmp_path / "tables" / "table1.md").read_text().splitlines()
    assert "n = 3 identities per cell" in markdown[0]
    assert "[95% Student's t interval of the mean, n - 1 degrees of freedom" in markdown[0]
    assert "Setting: the embedded synthetic world (64 x 64 renders" in markdown[0]
    assert "5 unlearning steps, FID over 50 samples" in markdown[0]
    assert "No face found" not in markdown[0]
    assert "ID (identity similarity before vs after) lower is better" in markdown[0]
    assert "averaged over their draws" in markdown[0]
    assert "scenarios Random, InD, OOD" in markdown[0]
    header = [cell.strip() for cell in markdown[2].strip("|").split("|")]
    assert header[:4] == ["Method", "Random n", "Random ID", "Random ID (paper)"]
    assert markdown[4].startswith("| Baseline | 3 | 0.20 ± 0.10 [-0.05, 0.45] | 0.19 ± 0.09 |")

    table3 = (tmp_path / "tables" / "table3.md").read_text()
    # alpha15 is the 7th ood method (j = 6): ids 0.16, 0.26, 0.36
    assert "| alpha_max = 15 | 3 | 0.2600 ± 0.1000 [0.0116, 0.5084] | 0.0878 ± 0.0375 |" in table3
    assert "scenario OOD" in table3

    tex = (tmp_path / "tables" / "table4.tex").read_text()
    assert r"\caption{Table 4: L\_global ablation" in tex
    assert r"L\_local + L\_global & " in tex
    assert r"4.63 $\pm$ 0.43" in tex


def test_comparison_methods_are_rows_without_paper_numbers(tmp_path):
    methods = [*METHODS, "cascaded", "feature", "encoder"]
    metrics = write_csv(make_metrics(methods), tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, methods, "ood", SETTING, tmp_path / "tables")
    for name in ("table1", "table2"):
        markdown = (tmp_path / "tables" / f"{name}.md").read_text().splitlines()
        assert "no paper numbers" in markdown[0]
        assert "without its adversarial (fake-label discriminator) term" in markdown[0]
        rows = {line.split("|")[1].strip(): line for line in markdown[4:]}
        for label in ("Cascaded GAN unlearning", "Feature unlearning", "Encoder unlearning (I2I)"):
            cells = [cell.strip() for cell in rows[label].strip("|").split("|")]
            assert cells[2] and cells[3] == ""  # n, ours, then a blank paper cell
        assert rows["+ L_global (GUIDE)"].split("|")[4].strip()  # GUIDE keeps its paper cell
    tex = (tmp_path / "tables" / "table1.tex").read_text()
    assert "Cascaded GAN unlearning &" in tex
    table3 = (tmp_path / "tables" / "table3.md").read_text()
    assert "adversarial" not in table3  # notes only where the method is a row
    write_strips(make_metrics(methods), tmp_path / "evaluate")
    report.write_figures(metrics, tmp_path / "evaluate", methods, "ood", tmp_path / "figures")
    assert (tmp_path / "figures" / "tradeoff.png").stat().st_size > 0


def test_sum_reduction_is_stated(tmp_path):
    metrics = write_csv(make_metrics(), tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, METHODS, "ood", replace(SETTING, reduction="sum"), tmp_path)
    assert "summed over their draws (reference code)" in (tmp_path / "table2.md").read_text()


def test_tables_without_runs_are_skipped(tmp_path):
    metrics = write_csv(make_metrics(ablations=[]), tmp_path / "all.csv")
    log = report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path)
    assert log[0].startswith("wrote")
    assert log[2:6] == [
        "skipped table3: no runs for it in scenario ood",
        "skipped table4: no runs for it in scenario ood",
        "skipped guide_sample: no runs for it in scenario guide_sample",
        "skipped attacks: no attack columns in the metrics",
    ]
    assert not (tmp_path / "table3.csv").exists()


def test_missing_table1_method_is_an_error_naming_it(tmp_path):
    metrics = write_csv(make_metrics(), tmp_path / "all.csv")
    with pytest.raises(ArtefactError, match=r"lacks method\(s\): cascaded \(random\)"):
        report.write_tables(metrics, PAPER, METHODS + ["cascaded"], "ood", SETTING, tmp_path)


# --- figures ------------------------------------------------------------------------------


def test_strips_split_into_their_tiles():
    colours = [(10, 20, 30), (40, 50, 60), (70, 80, 90), (100, 110, 120)]
    tiles = report.split_strip(strip(colours))
    assert list(tiles) == ["source", "target", "before", "after"]
    for colour, tile in zip(colours, tiles.values(), strict=True):
        assert tile.shape == (128, 128, 3)
        assert tuple(tile[-1, -1]) == colour and tuple(tile[0, 0]) == colour
    assert report.split_strip(strip(colours, side=16, scale=1))["after"].shape == (16, 16, 3)
    with pytest.raises(ArtefactError, match="not a strip of 4 square tiles"):
        report.split_strip(np.zeros((100, 500, 3), np.uint8))


def test_figures_are_written_as_png(tmp_path):
    frame = make_metrics()
    metrics = write_csv(frame, tmp_path / "all.csv")
    evaluate = write_strips(frame, tmp_path / "evaluate")
    log = report.write_figures(metrics, evaluate, METHODS, "ood", tmp_path / "figures")
    assert len(log) == 3
    for name in ("qualitative", "d_ablation", "tradeoff"):
        path = tmp_path / "figures" / f"{name}.png"
        assert path.stat().st_size > 0
        with Image.open(path) as image:
            assert image.format == "PNG" and min(image.size) > 200
    assert sorted(p.name for p in (tmp_path / "figures").iterdir()) == [
        "d_ablation.png",
        "qualitative.png",
        "tradeoff.png",
    ]  # and no temporary files left behind


def test_figures_are_deterministic(tmp_path):
    summary = report.summarise(make_metrics())
    report.tradeoff_figure(summary, METHODS, tmp_path / "a.png")
    report.tradeoff_figure(summary, METHODS, tmp_path / "b.png")
    assert (tmp_path / "a.png").read_bytes() == (tmp_path / "b.png").read_bytes()


def test_tradeoff_panels_place_methods_by_id_and_id_others(tmp_path):
    from matplotlib.figure import Figure

    summary = report.summarise(make_metrics())
    stats = summary.set_index(["scenario", "method", "metric"])
    colours = [(0.0, 0.0, 0.0)] * len(METHODS)
    for metric in ("id", "id_others"):
        ax = Figure().subplots()
        assert report.tradeoff_panel(ax, stats, "ood", metric, METHODS, colours)
        assert len(ax.containers) == len(METHODS)  # one error bar per method
        assert ax.get_xlabel().startswith("ID_others" if metric == "id_others" else "ID ")
    nan_others = stats.copy()
    nan_others.loc[nan_others.index.get_level_values("metric") == "id_others", "mean"] = np.nan
    assert not report.tradeoff_panel(
        Figure().subplots(), nan_others, "ood", "id_others", METHODS, colours
    )


def test_d_ablation_is_skipped_without_d_runs(tmp_path):
    frame = make_metrics(ablations=["alpha0"])
    metrics = write_csv(frame, tmp_path / "all.csv")
    evaluate = write_strips(frame, tmp_path / "evaluate")
    log = report.write_figures(metrics, evaluate, METHODS, "ood", tmp_path)
    assert log[-1] == f"skipped {tmp_path / 'd_ablation.png'}: no d* runs in scenario ood"
    assert not (tmp_path / "d_ablation.png").exists()


def test_missing_strip_is_an_error_naming_it(tmp_path):
    frame = make_metrics(ablations=[])
    metrics = write_csv(frame, tmp_path / "all.csv")
    evaluate = write_strips(frame, tmp_path / "evaluate")
    (evaluate / "ind" / "ind02" / "guide.png").unlink()
    with pytest.raises(ArtefactError, match="missing file: .*ind02/guide.png"):
        report.write_figures(metrics, evaluate, METHODS, "ood", tmp_path)


# --- command lines ------------------------------------------------------------------------


def tables_args(metrics: Path) -> list[str]:
    setting = json.dumps(asdict(SETTING), sort_keys=True)
    return ["--metrics", str(metrics), "--paper", str(PAPER), "--setting", setting]


def test_cli_tables_and_figures(tmp_path):
    frame = make_metrics()
    metrics = write_csv(frame, tmp_path / "all.csv")
    evaluate = write_strips(frame, tmp_path / "evaluate")
    runner = CliRunner()
    result = runner.invoke(
        load_cli("tables"),
        [*tables_args(metrics), "--outdir", str(tmp_path / "t")],
    )
    assert result.exit_code == 0, result.output
    assert (tmp_path / "t" / "table4.tex").is_file()
    assert (tmp_path / "t" / "claims.md").is_file()
    args = ["--metrics", str(metrics), "--evaluate-dir", str(evaluate), "--outdir"]
    result = runner.invoke(
        load_cli("figures"), [*args, str(tmp_path / "f"), "--max-identities", "2"]
    )
    assert result.exit_code == 0, result.output
    assert len(list((tmp_path / "f").glob("*.png"))) == 3


def test_cli_metrics_missing_a_column_is_a_one_line_error(tmp_path):
    metrics = write_csv(make_metrics().drop(columns="fid_pre"), tmp_path / "all.csv")
    result = CliRunner().invoke(
        load_cli("tables"),
        [*tables_args(metrics), "--outdir", str(tmp_path)],
    )
    assert result.exit_code == 1
    assert result.output.strip() == f"Error: metrics file {metrics} lacks column(s): fid_pre"


def test_cli_rejects_empty_method_names(tmp_path):
    metrics = write_csv(make_metrics(), tmp_path / "all.csv")
    result = CliRunner().invoke(
        load_cli("tables"),
        [*tables_args(metrics), "--outdir", str(tmp_path)] + ["--methods", "baseline,,guide"],
    )
    assert result.exit_code == 1
    assert "method names must be non-empty" in result.output


def test_cli_names_an_unknown_setting_key(tmp_path):
    metrics = write_csv(make_metrics(), tmp_path / "all.csv")
    setting = json.dumps(asdict(SETTING) | {"steps": 5})
    args = ["--metrics", str(metrics), "--paper", str(PAPER), "--setting", setting]
    result = CliRunner().invoke(load_cli("tables"), [*args, "--outdir", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.strip() == "Error: setting: unknown key(s) steps"


def test_strip_path_follows_the_run_an_alias_shares(tmp_path):
    metrics = pd.DataFrame(
        {
            "scenario": ["ood", "ood"],
            "identity": ["ood00"] * 2,
            "method": ["baseline", "d0"],
            "run": ["baseline", "baseline"],
        }
    )
    path = report.strip_path(metrics, tmp_path, "ood", "ood00", "d0")
    assert path == tmp_path / "ood" / "ood00" / "baseline.png"


def test_aggregate_lists_alias_rows_under_both_names(tmp_path):
    record = {
        "scenario": "ood",
        "identity": "ood00",
        "method": "baseline",
        "id": 0.5,
        "id_others": 0.6,
        "id_source_before": 0.8,
        "id_source_after": 0.4,
        "fid_pre": 1.0,
        "fid_real": 2.0,
        "dfid_real": 0.5,
    } | no_face()
    (tmp_path / "a.json").write_text(json.dumps(record))
    out = tmp_path / "all.csv"
    report.aggregate([str(tmp_path / "a.json")], {"alpha0": "baseline"}, str(out))
    table = pd.read_csv(out)
    assert list(table["method"]) == ["alpha0", "baseline"]
    assert list(table["run"]) == ["baseline", "baseline"]
    assert table["id"].tolist() == [0.5, 0.5]
    assert "id_second" not in table.columns  # only the real setting has a second evaluator


def test_aggregate_keeps_the_second_evaluators_ids(tmp_path):
    record = {key: 0.5 for key in report.VALUE_COLUMNS} | no_face()
    record |= {"scenario": "ood", "identity": "ood00", "method": "guide"}
    record |= {"id_second": 0.25, "id_others_second": 0.125, "unknown": 1.0}
    (tmp_path / "a.json").write_text(json.dumps(record))
    report.aggregate([str(tmp_path / "a.json")], {}, str(tmp_path / "all.csv"))
    table = pd.read_csv(tmp_path / "all.csv")
    assert table[["id_second", "id_others_second"]].iloc[0].tolist() == [0.25, 0.125]
    assert "unknown" not in table.columns


# --- attacks ------------------------------------------------------------------------------


def attack_record(path: Path, method: str, identity: str = "ood00", **values) -> str:
    record = {"scenario": "ood", "identity": identity, "method": method, "settings": {}}
    record.update(values)
    path.write_text(json.dumps(record))
    return str(path)


def test_attack_columns_sort_by_attack_then_k_and_read_as_labels():
    columns = [
        "id",
        "src_relearn_100",
        "id_relearn_100",
        "id_relearn_10",
        "id_search",
        "id_others_reinv_optim",
        "id_reinv_optim",
        "id_reinv_encoder",
        "id_unattacked",
        "seconds_search",
    ]
    assert report.attack_columns(columns, ("id",)) == [
        "id_reinv_encoder",
        "id_reinv_optim",
        "id_search",
        "id_relearn_10",
        "id_relearn_100",
    ]
    assert report.attack_columns(columns)[1:3] == ["id_reinv_optim", "id_others_reinv_optim"]
    assert report.metric_label("id_reinv_encoder") == "ID reinv-enc"
    assert report.metric_label("id_others_reinv_optim") == "ID_others reinv-opt"
    assert report.metric_label("id_relearn_50") == "ID relearn-50"
    assert report.metric_label("fid_pre") == "FID_pre"


def test_aggregate_joins_attacks_on_the_run_so_aliases_share_them(tmp_path):
    base = {"scenario": "ood", "identity": "ood00", "id_others": 0.6, "id_source_before": 0.8}
    base.update(id_source_after=0.4, fid_pre=1.0, fid_real=2.0, dfid_real=0.5, **no_face())
    for method, value in (("baseline", 0.5), ("guide", 0.1)):
        (tmp_path / f"{method}.json").write_text(
            json.dumps({**base, "method": method, "id": value})
        )
    attacked = attack_record(
        tmp_path / "attack.json",
        "baseline",
        id_reinv_optim=0.7,
        id_relearn_10=0.9,
        src_relearn_10=0.3,
        id_unattacked=0.5,
    )
    out = tmp_path / "all.csv"
    records = [str(tmp_path / "baseline.json"), str(tmp_path / "guide.json")]
    report.aggregate(records, {"alpha0": "baseline"}, str(out), [attacked])
    table = pd.read_csv(out).set_index("method")
    assert list(table.columns)[-3:] == ["id_reinv_optim", "id_relearn_10", "src_relearn_10"]
    assert "id_unattacked" not in table.columns
    assert table.loc["alpha0", "id_relearn_10"] == 0.9 == table.loc["baseline", "id_relearn_10"]
    assert math.isnan(table.loc["guide", "id_reinv_optim"])  # not attacked: blank
    # without attack records the CSV is as before
    report.aggregate(records, {}, str(out))
    assert list(pd.read_csv(out).columns)[-1] == "views_others"


def test_attacks_get_their_own_table_beside_the_unattacked_id(tmp_path):
    frame = make_metrics()
    attacked = frame["method"] == "guide"
    frame.loc[attacked, "id_reinv_optim"] = 0.5
    frame.loc[attacked, "id_relearn_10"] = 0.6
    frame.loc[attacked, "id_others_reinv_optim"] = 0.4
    frame.loc[attacked, "src_relearn_10"] = 0.2
    metrics = write_csv(frame, tmp_path / "all.csv")
    report.write_tables(metrics, PAPER, METHODS, "ood", SETTING, tmp_path)
    # Tables 1-2 keep the paper's shape: no attack columns
    for name in ("table1", "table2"):
        lines = (tmp_path / f"{name}.md").read_text().splitlines()
        assert "reinv" not in lines[2] and "relearn" not in lines[2]
    assert set(pd.read_csv(tmp_path / "table1.csv")["metric"]) == {"id", "fid_pre", "dfid_real"}

    attacks = (tmp_path / "attacks.md").read_text().splitlines()
    header = [cell.strip() for cell in attacks[2].strip("|").split("|")]
    assert header == [
        "Scenario",
        "Method",
        "n",
        "ID",
        "ID reinv-opt",
        "ID relearn-10",
        "ID_others",
        "ID_others reinv-opt",
    ]
    rows = [[cell.strip() for cell in row.strip("|").split("|")] for row in attacks[4:]]
    assert [row[:3] for row in rows] == [["Random", "+ L_global (GUIDE)", "3"]] + [
        [scenario, "+ L_global (GUIDE)", "3"] for scenario in ("InD", "OOD")
    ]  # only the attacked method, once per scenario
    # guide (j = 3) in ood: ids 0.13, 0.23, 0.33; the attacks are constant, so CI = [c, c]
    assert rows[2][3:6] == [
        "0.23 ± 0.10 [-0.02, 0.48]",
        "0.50 ± 0.00 [0.50, 0.50]",
        "0.60 ± 0.00 [0.60, 0.60]",
    ]
    assert rows[0][6] == ""  # no other images in Random
    assert "cos(E(G_s(w_u)), E(G'(w')))" in attacks[0] and "Setting: the embedded" in attacks[0]
    assert (tmp_path / "attacks.tex").read_text().count(r"\\") == 4
    tidy = pd.read_csv(tmp_path / "attacks.csv")
    assert {"n", "mean", "std", "ci_low", "ci_high"} <= set(tidy.columns)
    assert "src_relearn_10" not in set(tidy["metric"])
