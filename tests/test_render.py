"""What users look at: renders of any system, the retained-faces gallery, the attack
pictures and the report's HTML pages, on small random-weight networks."""

import copy
import hashlib
import importlib.util
import json
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from matplotlib.figure import Figure
from PIL import Image
from test_attacks import linear_encoder
from test_eg3d import fake_eg3d_root, standin  # noqa: F401 (a fixture)

from idunlearn import attacks, pages, pictures
from idunlearn.backend import OffsetEncoder
from idunlearn.checkpoints import save_checkpoint, save_module
from idunlearn.gallery import run_gallery
from idunlearn.generators.eg3d import EG3DAdapter
from idunlearn.generators.synthetic import SyntheticGenerator, save_generator
from idunlearn.inversion import INVERSION_KIND, InversionConfig
from idunlearn.io import ArtefactError
from idunlearn.methods.encoder import PREFIX as ENCODER_PREFIX
from idunlearn.metrics import identity_similarity
from idunlearn.nets.cnn import IdentityNet, InversionEncoder
from idunlearn.render import System, faces_of_latents, render_views
from idunlearn.report import NO_FACE_COLUMNS, VALUE_COLUMNS, to_markdown
from idunlearn.system import UNLEARNED_KIND
from idunlearn.visual import save_strip, to_uint8
from idunlearn.world.build import ENCODER_KIND, IDENTITY_KIND

from tiny import TinyGenerator, flat_embed, squared_perceptual

ROOT = Path(__file__).resolve().parents[1]
SIDE, PAD, SCALE = 64, 2, 2  # the world's image side, the grid's gap, save_png's scale


def script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


def small_generator():
    torch.manual_seed(0)
    return (
        SyntheticGenerator(z_dim=5, w_dim=8, mapping_width=16, channels=(8, 8), head_channels=4)
        .eval()
        .requires_grad_(False)
    )


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """G_s, its encoder, an evaluation network, an inversion, and unlearn outputs of a
    generator method (`guide`), of the encoder method and of a no-op (`same`)."""
    root = tmp_path_factory.mktemp("world")
    g_s = small_generator()
    save_generator(str(root / "generator.pt"), g_s)
    torch.manual_seed(1)
    encoder = InversionEncoder(g_s.num_ws, g_s.w_dim, width=8)
    save_module(str(root / "encoder.pt"), ENCODER_KIND, encoder)
    save_module(str(root / "eval.pt"), IDENTITY_KIND, IdentityNet("plain", 8, 16).eval())
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        ws = g_s.mapping(z) + 0.3
        images = g_s.synthesis(ws, torch.zeros(3, 1))["image"]
    inversion = {
        "w_u": ws[0],
        "w_others": ws[1:],
        "source_image": images[0],
        "source_camera": torch.zeros(1),
        "other_images": images[1:],
        "other_cameras": torch.zeros(2, 1),
    }
    save_checkpoint(root / "inv.pt", INVERSION_KIND, inversion, meta={"identity": "ood00"})
    g_u = copy.deepcopy(g_s)
    with torch.no_grad():
        for param in g_u.trainable_parameters():
            param.mul_(-1.5)
    # an unlearn output records its method and settings: renders rebuild the system from it
    guide = {"method": "guide", "settings": json.dumps({"kind": "guide"})}
    save_checkpoint(root / "guide.pt", UNLEARNED_KIND, g_u.trainable_state_dict(), meta=guide)
    save_checkpoint(root / "same.pt", UNLEARNED_KIND, g_s.trainable_state_dict(), meta=guide)
    e_u = copy.deepcopy(encoder)
    with torch.no_grad():
        e_u.head[-1].bias.add_(2.0)
    state = {f"{ENCODER_PREFIX}{k}": v for k, v in e_u.state_dict().items()}
    encoder_meta = {"method": "encoder", "settings": json.dumps({"kind": "encoder"})}
    save_checkpoint(root / "enc.pt", UNLEARNED_KIND, state, meta=encoder_meta)
    return {
        "root": root,
        "g_s": g_s,
        "g_u": g_u,
        "e_u": OffsetEncoder(e_u, g_s.w_avg).eval(),
        "inv": inversion,
    }


def tiles(path, rows, cols):
    """The grid PNG's tiles, [rows][cols] of [64, 64, 3] uint8, after checking its size."""
    picture = np.asarray(Image.open(path).convert("RGB"))
    step = (SIDE + PAD) * SCALE
    assert picture.shape == (rows * step + PAD * SCALE, cols * step + PAD * SCALE, 3)
    top = PAD * SCALE
    return [
        [
            picture[top + i * step : top + i * step + SIDE * SCALE : SCALE][
                :, top + j * step : top + j * step + SIDE * SCALE : SCALE
            ]
            for j in range(cols)
        ]
        for i in range(rows)
    ]


def same(tile, image):
    """A PNG tile shows `image` (batched and single renders may round 1 level apart)."""
    return np.abs(tile.astype(int) - to_uint8(image).astype(int)).max() <= 1


def render_cli(world, *args):
    root = world["root"]
    base = ["--generator", str(root / "generator.pt"), "--device", "cpu"]
    return CliRunner().invoke(script("render"), [*base, *args])


def seed_latent(g_s, seed):
    return g_s.mapping(torch.randn(1, 5, generator=torch.Generator().manual_seed(seed)))


def test_render_draws_the_unlearned_generator_at_the_identity_and_the_seeds(world, tmp_path):
    root, g_s, g_u = world["root"], world["g_s"], world["g_u"]
    out = tmp_path / "guide.png"
    args = ["--unlearned", str(root / "guide.pt"), "--inversion", str(root / "inv.pt")]
    result = render_cli(world, *args, "--seeds", "4", "--out", str(out))
    assert result.exit_code == 0, result.output
    grid = tiles(out, rows=4, cols=11)  # seed 4, w_u, 2 other photos; the 11-view sweep
    views = g_s.eval_cameras()
    w_seed = seed_latent(g_s, 4)
    with torch.no_grad():
        for j in (0, 5, 10):
            cam = views[j : j + 1]
            assert same(grid[1][j], g_u.synthesis(world["inv"]["w_u"][None], cam)["image"][0])
            assert same(grid[0][j], g_u.synthesis(w_seed, cam)["image"][0])
            assert not same(grid[0][j], g_s.synthesis(w_seed, cam)["image"][0])


def test_the_encoder_method_renders_g_s_at_the_unlearned_encoder_s_latents(world, tmp_path):
    root, g_s, e_u = world["root"], world["g_s"], world["e_u"]
    out = tmp_path / "enc.png"
    args = ["--unlearned", str(root / "enc.pt"), "--encoder", str(root / "encoder.pt")]
    args += ["--inversion", str(root / "inv.pt"), "--seeds", "4", "--yaws", "-0.2,0.2"]
    result = render_cli(world, *args, "--out", str(out))
    assert result.exit_code == 0, result.output
    grid = tiles(out, rows=4, cols=2)
    cams = torch.tensor([[-0.2], [0.2]])
    with torch.no_grad():
        w_source = e_u(world["inv"]["source_image"][None])
        image = g_s.synthesis(seed_latent(g_s, 4), torch.zeros(1, 1))["image"]
        w_seed = e_u(image)  # a seed's face: E_u of G_s's frontal image of it
        for j in range(2):
            assert same(grid[1][j], g_s.synthesis(w_source, cams[j : j + 1])["image"][0])
            assert same(grid[0][j], g_s.synthesis(w_seed, cams[j : j + 1])["image"][0])
    # without the encoder file the unlearned encoder cannot be rebuilt: one clear line
    bad = render_cli(world, "--unlearned", str(root / "enc.pt"), "--seeds", "1", "--out", "x.png")
    assert bad.exit_code != 0 and "needs the inversion encoder file" in bad.output


def test_render_writes_one_png_per_view_and_rejects_bad_latents(world, tmp_path):
    g_s = world["g_s"]
    np.save(tmp_path / "w.npy", seed_latent(g_s, 2)[0].numpy())  # one latent, no batch axis
    views = tmp_path / "views"
    args = ["--latent", str(tmp_path / "w.npy"), "--seeds", "1,2", "--yaws", "0"]
    result = render_cli(world, *args, "--views-dir", str(views), "--out", str(tmp_path / "g.png"))
    assert result.exit_code == 0, result.output
    names = sorted(p.name for p in views.iterdir())
    assert names == ["face00_view00.png", "face01_view00.png", "face02_view00.png"]
    # seed 2 and the latent file name the same face: G_s (no --unlearned) renders it twice
    last = np.asarray(Image.open(views / "face02_view00.png"))
    assert np.array_equal(np.asarray(Image.open(views / "face01_view00.png")), last)
    np.save(tmp_path / "bad.npy", np.zeros((2, 3)))
    bad = render_cli(world, "--latent", str(tmp_path / "bad.npy"), "--out", str(tmp_path / "b.png"))
    assert bad.exit_code != 0 and "bad.npy: expected W+ latents" in bad.output
    empty = render_cli(world, "--out", str(tmp_path / "e.png"))
    assert empty.exit_code == 1 and empty.output.startswith("Error: nothing to render")
    assert not (tmp_path / "b.png").exists() and not (tmp_path / "e.png").exists()


def test_render_views_batches_faces_and_cameras_like_synthesis():
    g = TinyGenerator().requires_grad_(False)
    faces = faces_of_latents(
        g, torch.randn(5, 2, 2, generator=torch.Generator().manual_seed(0)), "abcde"
    )
    cameras = torch.tensor([[0.0], [0.3]])
    images = render_views(System(g), faces, cameras, batch=2)
    assert images.shape == (5, 2, 3, 2, 2)
    for v in range(2):
        expected = g.synthesis(faces.ws, cameras[v : v + 1].expand(5, -1))["image"]
        assert torch.equal(images[:, v], expected)


def test_eg3d_yaw_cameras_reproduce_the_evaluation_sweep_and_render_on_the_stand_in(
    tmp_path,
    fake_eg3d_root,  # noqa: F811
):
    adapter = EG3DAdapter(standin())
    sweep = torch.linspace(-torch.pi / 12, torch.pi / 12, 11, dtype=torch.float64)
    assert torch.equal(adapter.yaw_cameras(sweep), adapter.eval_cameras())
    assert not torch.equal(adapter.yaw_cameras(sweep[:1]), adapter.frontal_camera(1))
    with open(tmp_path / "g.pkl", "wb") as f:
        pickle.dump({"G_ema": standin().eval()}, f)
    digest = hashlib.sha256((tmp_path / "g.pkl").read_bytes()).hexdigest()
    spec = {"family": "eg3d", "weights": str(tmp_path / "g.pkl"), "sha256": digest}
    spec["code_root"] = str(fake_eg3d_root)
    (tmp_path / "g.json").write_text(json.dumps(spec))
    outs = []
    for name, seed in (("a", "0"), ("b", "0"), ("c", "1")):
        out = tmp_path / f"{name}.png"
        args = ["--generator", str(tmp_path / "g.json"), "--seeds", "0,1", "--yaws", "-0.2,0,0.2"]
        result = CliRunner().invoke(script("render"), [*args, "--seed", seed, "--out", str(out)])
        assert result.exit_code == 0, result.output
        outs.append(np.asarray(Image.open(out)))
    assert outs[0].shape == (2 * (2 * 18 + 2), 2 * (3 * 18 + 2), 3)  # 16 px tiles, 2 x 3
    assert np.array_equal(outs[0], outs[1])  # per-pass noise is seeded: same seed, same PNG
    assert not np.array_equal(outs[0], outs[2])


# --- the retained-faces gallery -----------------------------------------------------------


def test_gallery_ids_compare_g_s_with_each_system_on_the_same_faces(world, tmp_path):
    root, g_s, g_u = world["root"], world["g_s"], world["g_u"]
    strip = tmp_path / "strip.png"
    save_strip(str(strip), [torch.zeros(3, SIDE, SIDE)] * 4)
    runs = [(m, str(root / f"{m}.pt"), str(strip)) for m in ("same", "guide", "enc")]
    out = tmp_path / "gallery.json"
    run_gallery(
        str(root / "generator.pt"),
        runs,
        [str(root / "inv.pt")],
        str(root / "encoder.pt"),
        str(root / "eval.pt"),
        3,
        7,
        "ood ood00",
        str(tmp_path / "gallery.png"),
        str(out),
    )
    record = json.loads(out.read_text())
    assert record["faces"] == ["z 0", "z 1", "z 2", "ood00"]
    assert record["id"]["same"] == pytest.approx([1.0] * 4)  # an unchanged generator
    from idunlearn.world.build import load_identity_net

    embed = load_identity_net(str(root / "eval.pt"))
    z = torch.randn(3, 5, generator=torch.Generator().manual_seed(7))
    ws = torch.cat([g_s.mapping(z), world["inv"]["w_u"][None]])
    expected = identity_similarity(g_s, g_u, ws, embed)
    assert record["id"]["guide"] == pytest.approx(expected.tolist(), abs=1e-6)
    assert max(record["id"]["guide"]) < 0.999
    images = torch.cat([g_s.synthesis(ws[:3], torch.zeros(3, 1))["image"]])
    images = torch.cat([images, world["inv"]["source_image"][None]])  # the photo, for E_u
    expected_enc = identity_similarity(g_s, g_s, ws, embed, world["e_u"](images))
    assert record["id"]["enc"] == pytest.approx(expected_enc.tolist(), abs=1e-6)
    assert record["mean_id"]["guide"] == pytest.approx(float(expected.mean()), abs=1e-6)
    with Image.open(tmp_path / "gallery.png") as picture:
        assert picture.width > picture.height > 0


# --- the attack pictures ------------------------------------------------------------------


def test_attack_all_hands_back_what_each_attack_recovered():
    g_s = TinyGenerator().requires_grad_(False)
    g_u = copy.deepcopy(g_s)
    with torch.no_grad():
        g_u.gain.mul_(-1.0)
    encoder, _ = linear_encoder()
    w_u = torch.tensor([[1.0, 0.5], [-0.5, 2.0]])
    camera = torch.full((1, 1), 0.1)
    source = g_s.synthesis(w_u[None], camera)["image"][0]
    reference = attacks.Reference(g_s, w_u, flat_embed(source[None]), camera, flat_embed)
    renders = {}
    attacks.attack_all(
        attacks.AttackCase(
            g_s=g_s,
            g_u=g_u,
            w_system=w_u,
            reference=reference,
            source=source,
            others=(source[None], camera),
            w_others=w_u[None],
            encoder=encoder,
            encoder_u=None,
            embed_loss=flat_embed,
            lpips=squared_perceptual,
            kinds=["encoder", "optimisation"],
            inversion=InversionConfig("optimisation", 2, 0.05, 1.0),
            config=attacks.AttackConfig(2, 1.0, 2, 0.5, (1, 2), 0.1),
            seed=0,
            renders=renders,
        )
    )
    names = ["unattacked", "reinv_encoder", "reinv_optim", "search", "relearn_1", "relearn_2"]
    assert list(renders) == names
    assert torch.equal(renders["unattacked"], g_u.synthesis(w_u[None], camera)["image"][0])
    w_enc = encoder(source[None])
    assert torch.allclose(renders["reinv_encoder"], g_u.synthesis(w_enc, camera)["image"][0])
    # relearning changes the generator between the scored step counts
    assert not torch.equal(renders["relearn_1"], renders["unattacked"])
    assert not torch.equal(renders["relearn_2"], renders["relearn_1"])


def test_attack_figure_orders_attacks_and_captions_their_ids(tmp_path):
    tile = np.zeros((8, 8, 3), np.uint8)
    names = ["relearn_10", "search", "unattacked", "relearn_2", "reinv_optim", "source"]
    np.savez(tmp_path / "a.npz", **{name: tile for name in names})
    assert pictures.attack_names(dict.fromkeys(names)) == [
        "reinv_optim",
        "search",
        "relearn_2",
        "relearn_10",
    ]
    record = {"id_unattacked": 0.1, "id_search": 0.25, "id_relearn_2": 0.5, "id_relearn_10": 0.9}
    (tmp_path / "a.json").write_text(json.dumps(record))
    out = tmp_path / "attacks.png"
    pictures.attack_figure("t", ["guide"], [tmp_path / "a.json"], [tmp_path / "a.npz"], out)
    assert out.stat().st_size > 0
    figure = Figure()
    captions = [["", "ID 0.10"], ["x", "y"]]
    pictures.captioned_grid(figure, [[tile, tile], [tile, tile]], ["a", "b"], ["r", "s"], captions)
    assert [ax.get_xlabel() for ax in figure.axes] == ["", "ID 0.10", "x", "y"]
    np.savez(tmp_path / "b.npz", unattacked=tile)
    with pytest.raises(ArtefactError, match="b.npz: no source render"):
        pictures.attack_figure("t", ["g"], [tmp_path / "a.json"], [tmp_path / "b.npz"], out)


# --- the report's HTML pages --------------------------------------------------------------


def test_pages_turn_tables_metrics_and_quality_into_html_tables(tmp_path):
    import pandas as pd

    frame = pd.DataFrame({"Method": ["GUIDE", "Baseline"], "ID": ["0.12 ± 0.01", "0.30"]})
    (tmp_path / "table1.md").write_text(to_markdown(frame, "Table 1: caption") + "\nA note.\n")
    metrics = pd.DataFrame(
        {
            "scenario": ["ood", "ood", "ind"],
            "identity": ["ood00", "ood00", "ind00"],
            "method": ["guide", "baseline", "guide"],
            "run": ["guide", "baseline", "guide"],
            **{column: [0.5, 0.5, 0.5] for column in VALUE_COLUMNS},
            **{column: [0, 0, 0] for column in NO_FACE_COLUMNS},
            "id_search": [0.75, float("nan"), float("nan")],
            "id_relearn_3": [float("nan")] * 3,  # an empty column is left out
        }
    )
    metrics.to_csv(tmp_path / "all.csv", index=False)
    (tmp_path / "q.json").write_text(json.dumps({"auc": 0.9, "encoder": {"rank": 0.5}}))
    written = pages.write_pages(
        [tmp_path / "table1.md"],
        tmp_path / "all.csv",
        [("ood", "ood00")],
        tmp_path / "r",
        tmp_path / "q.json",
    )
    assert [Path(p).relative_to(tmp_path / "r").as_posix() for p in written] == [
        "tables/table1.html",
        "identities/ood/ood00.html",
        "quality.html",
    ]
    table = (tmp_path / "r" / "tables" / "table1.html").read_text()
    assert "<p>Table 1: caption</p>" in table and "<p>A note.</p>" in table
    assert table.count("<tr>") == 3 and "<td>0.12 ± 0.01</td>" in table
    ident = (tmp_path / "r" / "identities" / "ood" / "ood00.html").read_text()
    assert ident.count("<tr>") == 3 and "<td>0.75</td>" in ident and "ind00" not in ident
    assert "id_relearn_3" not in ident and "<th>id_search</th>" in ident
    quality = (tmp_path / "r" / "quality.html").read_text()
    assert "<td>encoder.rank</td><td>0.5</td>" in quality
    with pytest.raises(Exception, match="no metrics for ood/ood09"):
        pages.write_pages([], tmp_path / "all.csv", [("ood", "ood09")], tmp_path / "s")
