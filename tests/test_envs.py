"""Static checks of the conda environment files in envs/ (conda cannot run here).

Every dependency is pinned to one exact version, the channels end in nodefaults, versions
agree with pyproject.toml, and every `conda:` directive of the workflow names a file here.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
ENVS = REPO / "envs"
ENV_FILES = ["torch.yaml", "faces.yaml", "report.yaml"]
# Conda package names whose PyPI name differs.
CONDA_TO_PYPI = {"pytorch": "torch", "pytorch-cpu": "torch", "pytorch-gpu": "torch"}
# name=1.2.3, name==1.2.3, or name=1.2.3=build: one version, no wildcard or range.
CONDA_PIN = re.compile(r"^(?P<name>[A-Za-z0-9_.\-]+)==?(?P<version>[0-9][A-Za-z0-9_.+!]*)(=\S+)?$")
PIP_PIN = re.compile(
    r"^(?P<name>[A-Za-z0-9_.\-]+)(\[[A-Za-z0-9_,\-]+\])?==(?P<version>[0-9][A-Za-z0-9_.+!]*)$"
)
PIP_INSTALL = re.compile(r"pip install\b(?P<args>.*)$", re.M)


def load_env(name: str) -> dict:
    env = yaml.safe_load((ENVS / name).read_text())
    assert isinstance(env, dict), f"{name}: not a YAML mapping"
    return env


def conda_deps(env: dict) -> list[str]:
    return [d for d in env["dependencies"] if isinstance(d, str)]


def pip_deps(env: dict) -> list[str]:
    lists = [d["pip"] for d in env["dependencies"] if isinstance(d, dict) and "pip" in d]
    return [item for sub in lists for item in sub]


def pinned_versions(env: dict) -> dict[str, str]:
    """PyPI-normalised name -> version, from the conda and the pip dependencies."""
    versions = {}
    for dep in conda_deps(env):
        m = CONDA_PIN.match(dep)
        if m:
            name = m["name"].lower()
            versions[canonicalize_name(CONDA_TO_PYPI.get(name, name))] = m["version"]
    for dep in pip_deps(env):
        m = PIP_PIN.match(dep)
        if m:
            versions[canonicalize_name(m["name"])] = m["version"]
    return versions


def pyproject_requirements() -> list[Requirement]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    return [Requirement(r) for r in project["dependencies"]]


@pytest.mark.parametrize("name", ENV_FILES)
def test_env_file_parses(name: str) -> None:
    env = load_env(name)
    assert env.get("name"), f"{name}: no name"
    assert isinstance(env.get("dependencies"), list) and env["dependencies"], f"{name}: no deps"
    assert set(env) <= {"name", "channels", "dependencies"}, f"{name}: unknown keys {set(env)}"


@pytest.mark.parametrize("name", ENV_FILES)
def test_channels_end_with_nodefaults(name: str) -> None:
    channels = load_env(name).get("channels") or []
    assert "nodefaults" in channels, f"{name}: without nodefaults, conda adds 'defaults'"
    assert "defaults" not in channels, f"{name}: the defaults channel is not for this project"


@pytest.mark.parametrize("name", ENV_FILES)
def test_every_dependency_is_pinned(name: str) -> None:
    env = load_env(name)
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            assert set(dep) == {"pip"}, f"{name}: unexpected dependency entry {dep}"
            assert isinstance(dep["pip"], list) and dep["pip"], f"{name}: empty pip section"
            continue
        assert isinstance(dep, str) and CONDA_PIN.match(dep), f"{name}: not an exact pin: {dep!r}"
    for dep in pip_deps(env):
        assert isinstance(dep, str) and PIP_PIN.match(dep), (
            f"{name}: pip entry is not name==version: {dep!r}"
        )
    if pip_deps(env):
        assert "pip" in pinned_versions(env), f"{name}: a pip section needs a pinned pip"


@pytest.mark.parametrize("name", ENV_FILES)
def test_versions_agree_with_pyproject(name: str) -> None:
    versions = pinned_versions(load_env(name))
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    python = versions.get("python")
    assert python, f"{name}: python is not pinned"
    assert python in SpecifierSet(project["requires-python"]), f"{name}: python {python}"
    for req in pyproject_requirements():
        version = versions.get(canonicalize_name(req.name))
        if version is None:
            continue
        exact = [s.version for s in req.specifier if s.operator == "=="]
        if exact:
            assert version == exact[0], f"{name}: {req.name} {version}, pyproject pins {exact[0]}"
        else:
            assert version in req.specifier, f"{name}: {req.name} {version} not {req.specifier}"


@pytest.mark.parametrize("name", ENV_FILES)
def test_post_deploy_installs_the_project_and_only_pinned_packages(name: str) -> None:
    script = ENVS / name.replace(".yaml", ".post-deploy.sh")
    assert script.is_file(), f"{script.name}: missing (it pip-installs the project)"
    text = script.read_text()
    assert text.startswith("#!"), f"{script.name}: no shebang (Snakemake runs it with it)"
    installs = [m["args"].split() for m in PIP_INSTALL.finditer(text)]
    assert any("-e" in args and "." in args for args in installs), f"{script.name}: no -e ."
    env_versions = pinned_versions(load_env(name))
    pyproject = {canonicalize_name(r.name) for r in pyproject_requirements()}
    for args in installs:
        assert "--no-deps" in args, f"{script.name}: pip install without --no-deps: {args}"
        for arg in args:
            if arg.startswith("-") or arg == ".":
                continue
            m = PIP_PIN.match(arg)
            assert m, f"{script.name}: {arg!r} is not name==version"
            assert canonicalize_name(m["name"]) not in env_versions, f"{arg} twice"
            assert canonicalize_name(m["name"]) not in pyproject, f"{arg}: pyproject pins it"


def test_shared_packages_have_one_version_across_envs() -> None:
    seen: dict[str, tuple[str, str]] = {}
    for name in ENV_FILES:
        for package, version in pinned_versions(load_env(name)).items():
            if package in seen:
                other, other_version = seen[package]
                assert version == other_version, (
                    f"{package}: {version} in {name}, {other_version} in {other}"
                )
            else:
                seen[package] = (name, version)


def test_workflow_conda_directives_name_existing_env_files() -> None:
    rules = [REPO / "Snakefile", *sorted((REPO / "workflow" / "rules").glob("*.smk"))]
    referenced = set()
    for path in rules:
        if not path.is_file():
            continue
        for m in re.finditer(r"conda:\s*\n\s*[\"']([^\"']+)[\"']", path.read_text()):
            env = (path.parent / m[1]).resolve()
            assert env.is_file(), f"{path.name}: conda: {m[1]} does not exist"
            referenced.add(env.name)
    if not referenced:
        pytest.skip("no conda: directives in the workflow yet")
    assert referenced <= set(ENV_FILES), f"env files not checked here: {referenced}"


def constraints() -> dict[str, str]:
    """constraints.txt: PyPI-normalised name -> the version CI passed with."""
    lines = (REPO / "constraints.txt").read_text().splitlines()
    pins = [PIP_PIN.match(line) for line in lines if line and not line.startswith("#")]
    assert all(pins), "constraints.txt: every line is name==version"
    return {canonicalize_name(m["name"]): m["version"] for m in pins}


def test_constraints_pin_every_dependency_within_pyproject():
    pinned = constraints()
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    groups = [project["dependencies"], *project["optional-dependencies"].values()]
    for req in (Requirement(line) for group in groups for line in group):
        version = pinned.get(canonicalize_name(req.name))
        assert version, f"constraints.txt: {req.name} is not pinned"
        assert version in req.specifier, f"constraints.txt: {req.name} {version} not {req}"


@pytest.mark.parametrize("name", ENV_FILES)
def test_env_files_agree_with_the_constraints(name):
    pinned = constraints()
    for package, version in pinned_versions(load_env(name)).items():
        if package in pinned:
            assert version == pinned[package], (
                f"{name}: {package} {version}, constraints.txt {pinned[package]}"
            )


def test_every_install_command_uses_the_constraints():
    ci = (REPO / "ci" / "test.sh").read_text()
    readme = (REPO / "README.md").read_text()
    for where, text in (("ci/test.sh", ci), ("README.md", readme)):
        installs = re.findall(r"pip install[^\n&]*", text)
        assert installs, f"{where}: no pip install"
        for command in installs:
            assert "-c constraints.txt" in command, f"{where}: {command!r} without the constraints"
