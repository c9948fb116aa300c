"""Write constraints.txt: the installed version of every package the project needs.

The closure of pyproject's dependencies (all extras) over this environment's installed
distributions, plus facenet-pytorch (installed with --no-deps): the versions CI was green
with. Run it in the environment `bash ci/test.sh` passed in: `python ci/constraints.py`.
"""

from __future__ import annotations

import re
import tomllib
from importlib import metadata
from pathlib import Path

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

ROOT = Path(__file__).resolve().parents[1]
EXTRA_PINS = ["facenet-pytorch"]  # pip-installed with --no-deps beside the project
BUILD_TOOLS = {"pip", "setuptools", "wheel"}  # the environment's own (envs/ pin them)
MARKER_ENV = {"python_version": "3.11", "sys_platform": "linux", "platform_system": "Linux"}


def wanted(requirement: Requirement, extras: set[str]) -> bool:
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**MARKER_ENV, "extra": extra}) for extra in extras or {""}
    )


def closure(roots: list[tuple[Requirement, set[str]]]) -> dict[str, str]:
    """Installed name -> version of every distribution the roots need, transitively."""
    versions: dict[str, str] = {}
    todo = list(roots)
    while todo:
        requirement, extras = todo.pop()
        name = canonicalize_name(requirement.name)
        try:
            dist = metadata.distribution(requirement.name)
        except metadata.PackageNotFoundError:
            continue  # not installed here (the real setting's timm, yacs): env_pins()
        if name in versions and not requirement.extras:
            continue
        versions[name] = dist.version
        for line in dist.requires or []:
            sub = Requirement(line)
            if wanted(sub, set(requirement.extras)):
                todo.append((sub, set(sub.extras)))
    return versions


def env_pins(names: list[str]) -> dict[str, str]:
    """envs/torch.yaml's pins of packages not installed here."""
    env = yaml.safe_load((ROOT / "envs" / "torch.yaml").read_text())
    pip = [item for dep in env["dependencies"] if isinstance(dep, dict) for item in dep["pip"]]
    pins = dict(line.split("#")[0].strip().split("==") for line in pip)
    return {canonicalize_name(n): v for n, v in pins.items() if canonicalize_name(n) in names}


def main() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project["optional-dependencies"]
    lines = [*project["dependencies"], *(r for group in extras.values() for r in group)]
    roots = [(Requirement(line), set()) for line in lines + EXTRA_PINS]
    versions = closure(roots)
    missing = [canonicalize_name(r.name) for r, _ in roots]
    versions = {**env_pins([n for n in missing if n not in versions]), **versions}
    for name in {canonicalize_name(project["name"]), *BUILD_TOOLS}:
        versions.pop(name, None)
    text = "".join(f"{name}=={versions[name]}\n" for name in sorted(versions))
    header = (
        "# pip install -c constraints.txt ...: the versions CI passed with (ci/constraints.py)\n"
    )
    (ROOT / "constraints.txt").write_text(header + re.sub(r"\n+$", "\n", text))


if __name__ == "__main__":
    main()
