"""Every torch step takes --device; the device is resolved before any file is read, so a
missing GPU fails at once with a clear message. Every torch step seeds the global generators
from its --seed before it reads a file."""

import importlib.util
import random
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner

from idunlearn.backend import resolve_device
from idunlearn.io import UserError

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
SEED = 1234
SCHEDULE = ["--steps", "1", "--batch-size", "2", "--lr", "0.1", "--out", "o.pt"]

# each torch step with the required options (files need not exist: they are read later),
# and the file it reads first: its missing-file error is the one expected
STEPS = {
    "invert": ["--identities", "i.tsv", "--generator", "g.pt", "--encoder", "e.pt"]
    + ["--scenario", "random", "--identity", "random00", "--out", "o.pt"],
    "evaluate": ["--generator", "g.pt", "--unlearned", "u.pt", "--inversion", "i.pt"]
    + ["--target", "t.pt", "--eval-identity", "e.pt", "--features", "f.pt"]
    + ["--reference", "r.npz", "--scenario", "random", "--identity", "random00"]
    + ["--method", "guide", "--settings", "{}", "--out-json", "o.json", "--out-png", "o.png"],
    "fid_reference": ["--generator", "g.pt", "--features", "f.pt", "--dataset", "d.npz"]
    + ["--out", "o.npz"],
    "fid_real": ["--index", "x.tsv", "--features", "f.pt", "--count", "10"]
    + ["--resolution", "16", "--out", "o.npz"],
    "attack": ["--generator", "g.pt", "--unlearned", "u.pt", "--inversion", "i.pt"]
    + ["--encoder", "e.pt", "--loss-identity", "l.pt", "--eval-identity", "e.pt"]
    + ["--scenario", "random", "--identity", "random00", "--method", "guide"]
    + ["--settings", "{}", "--out", "o.json"],
}
FIRST_READ = {
    "invert": "identity table: i.tsv",
    "evaluate": "checkpoint: g.pt",
    "fid_reference": "checkpoint: f.pt",
    "fid_real": "dataset index: x.tsv",
    "attack": "checkpoint: g.pt",
}
# the torch steps without --device (the world's CPU training, unlearn's own option)
OTHER_TORCH_STEPS = {
    "unlearn": ["--generator", "g.pt", "--inversion", "i.pt", "--target", "t.pt"]
    + [
        "--loss-identity",
        "l.pt",
        "--method",
        "guide",
        "--settings",
        "{}",
    ]
    + ["--out", "o.pt"],
    "train_generator": ["--dataset", "d.npz", *SCHEDULE],
    "train_identity": ["--dataset", "d.npz", "--role", "eval", *SCHEDULE],
    "train_encoder": ["--dataset", "d.npz", "--generator", "g.pt", *SCHEDULE],
    "train_features": ["--dataset", "d.npz", *SCHEDULE],
    "world_quality": ["--dataset", "d.npz", "--generator", "g.pt", "--loss-identity", "l.pt"]
    + ["--eval-identity", "e.pt", "--encoder", "n.pt", "--features", "f.pt"]
    + ["--out-json", "o.json", "--out-png", "o.png"],
}


def load_cli(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.main


@NO_GPU
def test_auto_is_the_cpu_without_cuda_and_cuda_fails_clearly():
    assert resolve_device("auto") == torch.device("cpu")
    assert resolve_device("cpu") == torch.device("cpu")
    with pytest.raises(UserError, match="no CUDA device is visible"):
        resolve_device("cuda")
    with pytest.raises(UserError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_torch_step_takes_a_device(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = load_cli(name)
    help_text = CliRunner().invoke(main, ["--help"]).output
    assert "--device [cpu|cuda|auto]" in help_text
    result = CliRunner().invoke(main, [*STEPS[name], "--seed", "0", "--device", "cpu"])
    # the step got past its options and the device and stopped at its first missing file
    assert result.exit_code == 1
    assert result.output == f"Error: missing {FIRST_READ[name]}\n"


@pytest.mark.parametrize("name", sorted(STEPS | OTHER_TORCH_STEPS))
def test_every_torch_step_seeds_the_global_generators_first(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    torch.manual_seed(0), np.random.seed(0), random.seed(0)
    args = {**STEPS, **OTHER_TORCH_STEPS}[name]
    result = CliRunner().invoke(load_cli(name), [*args, "--seed", str(SEED)])
    assert result.exit_code == 1 and result.output.startswith("Error: missing "), result.output
    assert torch.initial_seed() == SEED
    assert np.random.get_state()[1][0] == SEED
    assert random.getstate() == random.Random(SEED).getstate()


@NO_GPU
@pytest.mark.parametrize("name", sorted(STEPS))
def test_cuda_without_a_gpu_fails_before_reading_files(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(load_cli(name), [*STEPS[name], "--seed", "0", "--device", "cuda"])
    assert result.exit_code == 1
    assert "no CUDA device is visible" in result.output
