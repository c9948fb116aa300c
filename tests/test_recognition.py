"""The real setting's face-recognition networks, with random weights (nothing is downloaded)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from idunlearn.assets import ChecksumError, sha256_of
from idunlearn.backend import load_embedder, write_spec
from idunlearn.faces import (
    ARCFACE_TEMPLATE_112,
    detect_faces,
    make_detector,
    make_eval_alignment,
    to_uint8,
)
from idunlearn.io import ArtefactError
from idunlearn.nets.irse import Backbone, load_backbone
from idunlearn.recognition import (
    arcface_loss_embedder,
    curricularface_embedder,
    facenet_embedder,
    load_facenet,
)

# key names of the public checkpoints (model_ir_se50.pth; CurricularFace_Backbone.pth)
IRSE50_KEYS = [
    "input_layer.0.weight",
    "input_layer.2.weight",
    "body.3.shortcut_layer.0.weight",
    "body.3.shortcut_layer.1.running_mean",
    "body.0.res_layer.0.running_var",
    "body.0.res_layer.3.weight",
    "body.0.res_layer.5.fc1.weight",
    "body.0.res_layer.5.fc2.weight",
    "body.23.res_layer.5.fc2.weight",
    "output_layer.0.running_mean",
    "output_layer.3.weight",
    "output_layer.3.bias",
    "output_layer.4.weight",
    "output_layer.4.running_var",
]
# parameter counts: 43.8 M floats = the 175 MB of model_ir_se50.pth, 65.2 M tensor elements
# = the 249 MiB of CurricularFace_Backbone.pth
IRSE50_PARAMETERS = 43_797_696
IR101_PARAMETERS = 65_128_768


@pytest.fixture(scope="module")
def irse50() -> Backbone:
    torch.manual_seed(0)
    return Backbone(112, 50, "ir_se").eval()


def test_irse50_has_the_public_key_names_and_size(irse50, tmp_path):
    state = irse50.state_dict()
    assert set(IRSE50_KEYS) <= set(state)
    assert not any(k.startswith("body.0.shortcut_layer") for k in state)  # MaxPool2d(1, 2)
    assert len(state) == 397 and len(irse50.body) == 24
    assert state["output_layer.3.weight"].shape == (512, 512 * 7 * 7)
    assert state["body.0.res_layer.5.fc1.weight"].shape == (4, 64, 1, 1)
    assert sum(p.numel() for p in irse50.parameters()) == IRSE50_PARAMETERS
    torch.save(state, tmp_path / "model_ir_se50.pth")
    loaded = load_backbone(tmp_path / "model_ir_se50.pth", 50, "ir_se")
    assert not loaded.training
    assert all(torch.equal(v, state[k]) for k, v in loaded.state_dict().items())


def test_ir101_curricularface_checkpoint_loads_strictly(tmp_path):
    """CurricularFace's final BatchNorm1d has no affine parameters; a DataParallel copy
    (`module.` prefix, no num_batches_tracked as before torch 0.4.1) loads as well."""
    model = Backbone(112, 100, "ir", affine=False)
    state = model.state_dict()
    assert "output_layer.4.weight" not in state and "output_layer.4.running_mean" in state
    assert len(model.body) == 49 and "body.0.res_layer.5.weight" not in state
    assert sum(p.numel() for p in model.parameters()) == IR101_PARAMETERS
    state["output_layer.4.running_mean"] += 1.0
    legacy = {f"module.{k}": v for k, v in state.items() if not k.endswith("num_batches_tracked")}
    torch.save(legacy, tmp_path / "CurricularFace_Backbone.pth")
    loaded = load_backbone(tmp_path / "CurricularFace_Backbone.pth", 100, "ir")
    assert torch.equal(loaded.output_layer[4].running_mean, state["output_layer.4.running_mean"])


def test_load_backbone_rejects_other_files_in_one_line(irse50, tmp_path):
    with pytest.raises(ArtefactError, match="missing file: .*absent.pth"):
        load_backbone(tmp_path / "absent.pth", 50, "ir_se")
    corrupt = tmp_path / "corrupt.pth"
    corrupt.write_bytes(b"not a checkpoint")
    with pytest.raises(ArtefactError, match=r"not a torch state dict: .*corrupt\.pth"):
        load_backbone(corrupt, 50, "ir_se")
    nested = tmp_path / "nested.pth"
    torch.save({"state_dict": {"a": torch.zeros(1)}, "step": 3}, nested)
    with pytest.raises(ArtefactError, match="not a torch state dict"):
        load_backbone(nested, 50, "ir_se")
    irse = tmp_path / "model_ir_se50.pth"
    torch.save(irse50.state_dict(), irse)
    for num_layers, mode in [(50, "ir"), (100, "ir_se")]:
        with pytest.raises(ArtefactError) as err:
            load_backbone(irse, num_layers, mode)
        assert "model_ir_se50.pth does not match Backbone" in str(err.value)
        assert "\n" not in str(err.value)


class Recorder(nn.Module):
    """A stand-in backbone: remembers its input, embeds it by channel means."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.seen = x
        return x.mean(dim=(2, 3)) + 0.1


def test_arcface_loss_embedder_crops_the_ffhq_face_box():
    images = torch.full((2, 3, 512, 512), -1.0)
    # rows 70:446, columns 64:440 of 512 = the crop [35:223, 32:220] at 256
    images[:, :, 70:446, 64:440] = torch.tensor([0.5, -0.25, 0.0])[:, None, None]
    images.requires_grad_(True)
    recorder = Recorder()
    embedding = arcface_loss_embedder(recorder)(images)
    assert recorder.seen.shape == (2, 3, 112, 112)
    expected = torch.tensor([0.5, -0.25, 0.0])[None, :, None, None].expand(2, 3, 112, 112)
    assert torch.allclose(recorder.seen, expected, atol=1e-6)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(2))
    embedding.sum().backward()  # differentiable: the loss trains through it
    assert images.grad is not None and images.grad[:, :, 70:446, 64:440].abs().sum() > 0


def test_arcface_loss_embedder_runs_the_irse50(irse50):
    embedding = arcface_loss_embedder(irse50)(torch.rand(1, 3, 512, 512) * 2 - 1)
    assert embedding.shape == (1, 512)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(1))


@pytest.fixture(scope="module")
def detector():
    pytest.importorskip("facenet_pytorch")
    return make_detector()


@pytest.fixture(scope="module")
def astronaut() -> torch.Tensor:
    """skimage's astronaut photo (512 x 512, one face) as [1, 3, 512, 512] in [-1, 1]."""
    data = pytest.importorskip("skimage.data")
    return torch.from_numpy(data.astronaut().copy()).permute(2, 0, 1)[None].float() / 127.5 - 1


def test_curricularface_embedder_aligns_to_the_template_and_counts_misses(detector, astronaut):
    grey = torch.zeros_like(astronaut)
    recorder = Recorder()
    embedder = curricularface_embedder(recorder, make_eval_alignment("reference"))
    embedding = embedder(torch.cat([astronaut, grey]))
    assert embedding.shape == (2, 3) and not embedding.requires_grad
    assert torch.allclose(embedding.norm(dim=1), torch.ones(2))
    assert (embedder.images, embedder.no_face) == (2, 1)
    crop = recorder.seen[:1]
    assert crop.shape == (1, 3, 112, 112) and crop.min() >= -1 and crop.max() <= 1
    assert recorder.seen[1].abs().max() < 1e-6  # the grey image's fixed-box crop
    (face,) = detect_faces(detector, to_uint8(crop))
    assert face is not None
    # the eyes fit the template closely; nose and mouth of a smiling face less so
    offset = np.abs(face.landmarks - ARCFACE_TEMPLATE_112)
    assert offset[:2].max() < 4 and offset.max() < 8  # pixels of 112


@pytest.fixture
def facenet_file(tmp_path) -> tuple[Path, dict[str, torch.Tensor]]:
    """A random state dict in the layout of facenet's 20180402-114759-vggface2.pt."""
    facenet = pytest.importorskip("facenet_pytorch")
    torch.manual_seed(0)
    state = facenet.InceptionResnetV1(classify=True, num_classes=8631).state_dict()
    path = tmp_path / "20180402-114759-vggface2.pt"
    torch.save(state, path)
    return path, state


def test_facenet_embedder_reads_the_given_file_and_detects_on_its_own(
    facenet_file, tmp_path, monkeypatch, astronaut
):
    """The weights come from the verified file, not $TORCH_HOME (empty here: facenet-pytorch's
    own loader would download); the crops come from facenet's default MTCNN, and a miss
    counts in `no_face`."""
    path, state = facenet_file
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "empty"))
    embedder = facenet_embedder(path)
    weights = embedder.network[1].state_dict()["last_linear.weight"]
    assert torch.equal(weights, state["last_linear.weight"])
    assert embedder.align.keywords["detector"].thresholds == [0.6, 0.7, 0.7]  # not GUIDE's
    embedding = embedder(torch.cat([astronaut, torch.zeros_like(astronaut)]))
    assert embedding.shape == (2, 512)
    assert torch.allclose(embedding.norm(dim=1), torch.ones(2))
    assert (embedder.images, embedder.no_face) == (2, 1)  # the grey image holds no face


def test_a_facenet_file_of_another_architecture_is_refused(tmp_path):
    pytest.importorskip("facenet_pytorch")
    path = tmp_path / "20180402-114759-vggface2.pt"
    torch.save(Backbone(112, 50, "ir_se").state_dict(), path)
    with pytest.raises(ArtefactError, match="not facenet's VGGFace2 state dict"):
        load_facenet(path)


def test_the_facenet_spec_is_checked_before_its_weights_are_read(facenet_file, tmp_path):
    path, _ = facenet_file
    spec = str(tmp_path / "identity_second.json")
    write_spec(spec, "identity", "facenet", str(path), sha256_of(path))
    assert load_embedder(spec)(torch.rand(1, 3, 160, 160) * 2 - 1).shape == (1, 512)
    path.write_bytes(path.read_bytes() + b"tampered")  # replaced after the spec was written
    with pytest.raises(ChecksumError, match="mismatch"):
        load_embedder(spec)
