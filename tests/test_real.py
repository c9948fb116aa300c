"""The real setting's datasets on a fabricated CelebAHQ / FFHQ: index, selection, faces."""

import importlib.util
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from idunlearn.backend import inception_features
from idunlearn.identities import lookup, read_identities, select_real_identities
from idunlearn.inversion import identity_images
from idunlearn.io import ArtefactError, UserError
from idunlearn.real import (
    index_celebahq,
    index_ffhq,
    index_listed,
    is_faces_file,
    read_index,
    run_faces,
    write_index,
)
from idunlearn.recognition import facenet_embedder
from idunlearn.report import NO_FACE_COLUMNS, Setting, write_tables

ROOT = Path(__file__).resolve().parents[1]
# CelebA identity -> number of CelebAHQ images: 7 and 9 qualify for OOD (>= 4), 8 does not.
IMAGES_PER_IDENTITY = {7: 4, 8: 2, 9: 5}


def fake_celebahq(tmp_path: Path) -> tuple[Path, Path, Path]:
    """identity_CelebA.txt, the HQ-to-CelebA mapping and tiny <idx>.jpg images."""
    root = tmp_path / "CelebA-HQ-img"
    root.mkdir()
    identities, mapping = [], ["idx         orig_idx        orig_file"]
    hq = 0
    for identity, count in IMAGES_PER_IDENTITY.items():
        for k in range(count):
            celeba = f"{identity:03d}{k:03d}.jpg"
            identities.append(f"{celeba} {identity}")
            mapping.append(f"{hq}    {int(celeba[:-4]) - 1}    {celeba}")
            Image.new("RGB", (8, 8), (hq * 20, 0, 0)).save(root / f"{hq}.jpg")
            hq += 1
    identities.append("999999.jpg 3")  # a CelebA image not in CelebAHQ
    (tmp_path / "identity_CelebA.txt").write_text("\n".join(identities) + "\n")
    (tmp_path / "mapping.txt").write_text("\n".join(mapping) + "\n")
    return root, tmp_path / "identity_CelebA.txt", tmp_path / "mapping.txt"


def fake_ffhq(tmp_path: Path, count: int = 6) -> Path:
    root = tmp_path / "ffhq" / "00000"
    root.mkdir(parents=True)
    for i in range(count):
        Image.new("RGB", (16, 16), (0, i * 30, 0)).save(root / f"{i:05d}.png")
    return root.parent


def load_cli(name: str, folder: str = "scripts"):
    spec = importlib.util.spec_from_file_location(name, ROOT / folder / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def test_celebahq_index_joins_identities(tmp_path):
    root, identities, mapping = fake_celebahq(tmp_path)
    table = index_celebahq(root, identities, mapping, "see CelebAMask-HQ")
    assert len(table) == sum(IMAGES_PER_IDENTITY.values())
    assert table.groupby("identity").size().to_dict() == IMAGES_PER_IDENTITY
    assert table.loc[0, "path"] == str(root / "0.jpg")


def test_a_missing_dataset_names_where_to_put_it(tmp_path):
    with pytest.raises(ArtefactError) as err:
        index_ffhq(tmp_path / "nowhere", "FFHQ, github.com/NVlabs/ffhq-dataset")
    assert f"put it at {tmp_path / 'nowhere'}" in str(err.value)
    assert "ffhq-dataset" in str(err.value)


def test_real_selection_is_seeded_and_respects_min_images(tmp_path):
    root, identities, mapping = fake_celebahq(tmp_path)
    write_index(index_celebahq(root, identities, mapping, ""), str(tmp_path / "hq.tsv"))
    celebahq = read_index(str(tmp_path / "hq.tsv"))
    counts = {"random": 2, "ind": 3, "ood": 2}
    a = select_real_identities(10, celebahq, counts, seed=0, min_images=4)
    assert a.equals(select_real_identities(10, celebahq, counts, seed=0, min_images=4))
    assert list(a.scenario) == ["random"] * 2 + ["ind"] * 3 + ["ood"] * 2
    ind = a[a.scenario == "ind"]
    assert (ind.label == ind.source_index).all() and ind.label.between(0, 9).all()
    ood = a[a.scenario == "ood"]
    assert set(ood.label) == {7, 9}
    for _, row in ood.iterrows():
        images = celebahq[celebahq.identity == row.label]["index"]
        others = [int(i) for i in row.other_indices.split()]
        assert row.source_index == images.min() and sorted(others + [row.source_index]) == sorted(
            images
        )
    with pytest.raises(UserError, match="3 ood .>= 4 images. identities asked for"):
        select_real_identities(10, celebahq, {"ood": 3}, seed=0, min_images=4)


def test_select_identities_cli_on_real_indices(tmp_path):
    root, identities, mapping = fake_celebahq(tmp_path)
    write_index(index_celebahq(root, identities, mapping, ""), str(tmp_path / "hq.tsv"))
    write_index(index_ffhq(fake_ffhq(tmp_path), ""), str(tmp_path / "ffhq.tsv"))
    main = load_cli("select_identities")
    args = ["--ffhq-index", str(tmp_path / "ffhq.tsv"), "--celebahq-index"]
    args += [str(tmp_path / "hq.tsv"), "--random", "1", "--ind", "2", "--ood", "1"]
    result = CliRunner().invoke(main, [*args, "--out", str(tmp_path / "ids.tsv"), "--seed", "3"])
    assert result.exit_code == 0, result.output
    table = read_identities(str(tmp_path / "ids.tsv"))
    assert list(table.identity) == ["random00", "ind00", "ind01", "ood00"]
    bad = CliRunner().invoke(main, ["--out", str(tmp_path / "x.tsv"), "--seed", "0"])
    assert bad.exit_code != 0 and "--ffhq-index" in bad.output


class FrontalOnly:
    """The one generator method inversion's image loading needs."""

    def frontal_camera(self, n: int) -> torch.Tensor:
        return torch.zeros(n, 25)


def test_faces_of_an_identity_feed_inversion(tmp_path):
    root, identities, mapping = fake_celebahq(tmp_path)
    index = tmp_path / "hq.tsv"
    write_index(index_celebahq(root, identities, mapping, ""), str(index))
    table = select_real_identities(0, read_index(str(index)), {"ood": 1}, seed=0)
    table.to_csv(tmp_path / "ids.tsv", sep="\t", index=False)
    out = tmp_path / "faces" / "ood00.npz"
    run_faces(str(tmp_path / "ids.tsv"), "ood", "ood00", str(index), 12, False, str(out))
    row = lookup(table, "ood", "ood00")
    count = 1 + len(row.other_indices.split())
    assert is_faces_file(str(out))
    images, cameras = identity_images(str(out), row, FrontalOnly())
    assert images.shape == (count, 3, 12, 12) and cameras.shape == (count, 25)
    assert images.min() >= -1 and images.max() <= 1
    expected = np.asarray(Image.open(root / f"{row.source_index}.jpg").resize((12, 12)))
    assert np.abs((images[0].permute(1, 2, 0).numpy() + 1) * 127.5 - expected).max() < 40


def fake_guide_checkout(tmp_path: Path) -> tuple[Path, list[str]]:
    """The reference code's sample layout: data/CelebAHQ/512/aligned_{1..5}.jpg."""
    root = tmp_path / "guide"
    (root / "data" / "CelebAHQ" / "512").mkdir(parents=True)
    names = [f"data/CelebAHQ/512/aligned_{k}.jpg" for k in range(1, 6)]
    for k, name in enumerate(names):
        Image.new("RGB", (16, 16), (40 * k, 0, 0)).save(root / name)
    return root, names


def test_the_guide_sample_is_indexed_in_order_and_its_first_photo_is_the_source(tmp_path):
    root, names = fake_guide_checkout(tmp_path)
    index = tmp_path / "sample.tsv"
    args = ["--root", str(root), *(f"--image={n}" for n in names), "--out", str(index)]
    result = CliRunner().invoke(load_cli("index_sample"), args)
    assert result.exit_code == 0, result.output
    assert list(read_index(str(index))["path"]) == [str(root / n) for n in names]
    no_celebahq = pd.DataFrame({"index": [], "identity": []})
    table = select_real_identities(0, no_celebahq, {}, seed=0, sample_images=5)
    row = lookup(table, "guide_sample", "guide_sample00")
    assert (row.source_index, row.other_indices) == (0, "1 2 3 4")
    table.to_csv(tmp_path / "ids.tsv", sep="\t", index=False)
    out = tmp_path / "faces.npz"
    run_faces(
        str(tmp_path / "ids.tsv"), "guide_sample", "guide_sample00", str(index), 8, False, str(out)
    )
    faces = np.load(out)["faces"]
    assert faces.shape == (5, 8, 8, 3)  # in listed order (JPEG: red 0, 40, ... +- 3)
    assert np.abs(faces[:, 0, 0, 0].astype(int) - [0, 40, 80, 120, 160]).max() <= 3
    with pytest.raises(ArtefactError, match="aligned_9.jpg"):
        index_listed(root, [*names, "data/CelebAHQ/512/aligned_9.jpg"])


def test_the_guide_sample_has_its_own_table_beside_the_reference_readme(tmp_path):
    rows = [
        {
            "scenario": s,
            "identity": f"{s}00",
            "method": m,
            "id": 0.5,
            "id_others": 0.6,
            "id_source_before": 0.9,
            "id_source_after": 0.5,
            "fid_pre": 9.0,
            "fid_real": 20.0,
            "dfid_real": 2.0,
        }
        for s in ("random", "ind", "ood")
        for m in ("baseline", "guide")
    ]
    rows += [
        {**rows[0], "scenario": "guide_sample", "identity": "guide_sample00", "id": i, "method": m}
        for m, i in (("guide", 0.03), ("baseline", 0.1))
    ]
    frame = pd.DataFrame(rows).assign(**{column: 0 for column in NO_FACE_COLUMNS})
    frame.to_csv(tmp_path / "all.csv", index=False)
    paper = ROOT / "config" / "paper_numbers.yaml"
    setting = Setting(
        generator="eg3d", image_size=512, unlearn_steps=1000, fid_samples=5000, reduction="sum"
    )
    log = write_tables(tmp_path / "all.csv", paper, ["baseline", "guide"], "ood", setting, tmp_path)
    assert any(line.startswith(f"wrote {tmp_path / 'guide_sample.csv'}") for line in log)
    markdown = (tmp_path / "guide_sample.md").read_text().splitlines()
    assert "the GUIDE code's README" in markdown[0] and "n = 1 identities" in markdown[0]
    assert markdown[4].startswith("| Baseline | 1 | 0.1000 | 0.0818 | 0.6000 | 0.4122 |")
    assert markdown[5].startswith("| + L_global (GUIDE) | 1 | 0.0300 | 0.0183 |")
    assert "GUIDE sample" not in (tmp_path / "table1.md").read_text()


def test_the_step_benchmark_times_both_forms_on_the_same_draws_at_each_precision(tmp_path):
    """bench/eg3d_step.py's harness, on the CPU with the synthetic generator (no checkout)."""
    out = tmp_path / "step.json"
    args = ["--device", "cpu", "--steps", "1", "--precisions", "fp32,bf16", "--threads", "1"]
    args += ["--out", str(out)]
    result = CliRunner().invoke(load_cli("eg3d_step", "bench"), args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    runs = {(r["mode"], r["precision"]): r for r in json.loads(out.read_text())["runs"]}
    assert set(runs) == {(m, p) for m in ("batched", "sequential") for p in ("fp32", "bf16")}
    assert all(r["seconds_per_step"] > 0 and len(r["losses"]) == 2 for r in runs.values())
    fp32 = runs["batched", "fp32"]["losses"]
    assert runs["sequential", "fp32"]["losses"] == pytest.approx(fp32, rel=1e-5)
    bf16 = runs["batched", "bf16"]["losses"]
    assert bf16 != fp32 and bf16 == pytest.approx(fp32, rel=0.05)  # autocast was on
    assert "sequential  fp32" in result.output


def test_the_smokes_random_weights_load_as_the_public_files_do(tmp_path, monkeypatch):
    """bench/real_smoke.py's facenet and FID Inception files, read by the real loaders."""
    smoke = importlib.util.spec_from_file_location("real_smoke", ROOT / "bench" / "real_smoke.py")
    module = importlib.util.module_from_spec(smoke)
    smoke.loader.exec_module(module)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "checkpoints").mkdir()
    facenet = tmp_path / "checkpoints" / "20180402-114759-vggface2.pt"
    torch.save(module.facenet_state(), facenet)
    images = torch.rand(2, 3, 160, 160) * 2 - 1
    assert facenet_embedder(facenet)(images).shape == (2, 512)
    inception = tmp_path / "hub" / "checkpoints" / "pt_inception-2015-12-05-6726825d.pth"
    inception.parent.mkdir(parents=True)
    torch.save(module.fid_inception_state(), inception)
    assert inception_features(str(inception))(images).shape == (2, 2048)
