"""Every torch step takes --device; the device is resolved before any file is read, so a
missing GPU fails at once with a clear message."""

import importlib.util
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from idunlearn.backend import resolve_device

ROOT = Path(__file__).resolve().parents[1]
NO_GPU = pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")

# each torch step with the required options (files need not exist: they are read later)
STEPS = {
    "invert": ["--identities", "i.tsv", "--generator", "g.pt", "--encoder", "e.pt"]
    + ["--scenario", "random", "--identity", "random00", "--out", "o.pt"],
    "evaluate": ["--generator", "g.pt", "--unlearned", "u.pt", "--inversion", "i.pt"]
    + ["--target", "t.pt", "--eval-identity", "e.pt", "--features", "f.pt"]
    + ["--reference", "r.npz", "--scenario", "random", "--identity", "random00"]
    + ["--method", "guide", "--settings", "{}", "--out-json", "o.json", "--out-png", "o.png"],
    "fid_reference": ["--generator", "g.pt", "--features", "f.pt", "--dataset", "d.npz"]
    + ["--out", "o.npz", "--seed", "0"],
    "fid_real": ["--index", "x.tsv", "--features", "f.pt", "--count", "10"]
    + ["--resolution", "16", "--out", "o.npz"],
    "attack": ["--generator", "g.pt", "--unlearned", "u.pt", "--inversion", "i.pt"]
    + ["--encoder", "e.pt", "--loss-identity", "l.pt", "--eval-identity", "e.pt"]
    + ["--scenario", "random", "--identity", "random00", "--method", "guide"]
    + ["--settings", "{}", "--out", "o.json", "--seed", "0"],
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
    with pytest.raises(ValueError, match="no CUDA device is visible"):
        resolve_device("cuda")
    with pytest.raises(ValueError, match="unknown device"):
        resolve_device("tpu")


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_torch_step_takes_a_device(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    main = load_cli(name)
    help_text = CliRunner().invoke(main, ["--help"]).output
    assert "--device [cpu|cuda|auto]" in help_text
    result = CliRunner().invoke(main, [*STEPS[name], "--device", "cpu"])
    assert result.exit_code == 1 and "no such option" not in result.output  # a missing file


@NO_GPU
@pytest.mark.parametrize("name", sorted(STEPS))
def test_cuda_without_a_gpu_fails_before_reading_files(name, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(load_cli(name), [*STEPS[name], "--device", "cuda"])
    assert result.exit_code == 1
    assert "no CUDA device is visible" in result.output
