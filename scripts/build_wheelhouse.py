"""Download every wheel the learner install needs into one folder, for a workshop room without internet.

Run once, online, by the instructor (``make wheelhouse``); copy the folder to USB sticks; each learner then
installs with no index at all: ``make lab WHEELHOUSE=/path/to/wheelhouse``. The folder holds the course's
own wheel, every dependency of the learner install (``pyproject.toml``'s ``dependencies``, with all of
theirs) and the build tools ``pip install -e .`` needs (setuptools, wheel)::

    python3 scripts/build_wheelhouse.py --out wheelhouse                  # this machine's platform and Python
    python3 scripts/build_wheelhouse.py --out wheelhouse --torch cpu      # PyTorch's CPU-only wheels
    python3 scripts/build_wheelhouse.py --out wheelhouse --platforms win_amd64 macosx_11_0_arm64 --pythons 3.11 3.12

For another platform or Python, pip downloads binary wheels only (``--only-binary=:all:``); the platform
tags are pip's (``manylinux_2_28_x86_64``, ``win_amd64``, ``macosx_11_0_arm64``, ...). Wheels for several
platforms can share the folder: pip picks the ones that fit the machine it installs on. Prints the number
of wheels and their size, per platform and in all.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
CPU_TORCH_INDEX = "https://download.pytorch.org/whl/cpu"
TORCH_PACKAGES = ("torch", "torchvision")


def _toml_loads(text: str) -> dict:
    try:
        import tomllib                      # Python 3.11+
    except ModuleNotFoundError:             # Python 3.10: pip carries the same parser
        from pip._vendor import tomli as tomllib
    return tomllib.loads(text)


def build_tools(pyproject: Path = REPOSITORY / "pyproject.toml") -> list[str]:
    """What ``pip install -e .`` needs to build the course: pyproject.toml's build-system requirements, and wheel."""
    return [*_toml_loads(pyproject.read_text(encoding="utf-8"))["build-system"]["requires"], "wheel"]


def learner_requirements(pyproject: Path = REPOSITORY / "pyproject.toml") -> list[str]:
    """The learner install's requirements: ``[project] dependencies`` (no test extra)."""
    return list(_toml_loads(pyproject.read_text(encoding="utf-8"))["project"]["dependencies"])


def _is_torch(requirement: str) -> bool:
    """Whether a requirement string names torch or torchvision (with any version or marker)."""
    return re.split(r"[<>=!~;\[ ]", requirement, maxsplit=1)[0].strip().lower() in TORCH_PACKAGES


def download_commands(out: Path, *, torch: str = "default", platforms=(), pythons=(),
                      requirements=None, python: str = sys.executable) -> list[list[str]]:
    """The pip commands that fill ``out``: the course's wheel first, then one download per platform and Python."""
    requirements = learner_requirements() if requirements is None else list(requirements)
    pip = [python, "-m", "pip", "--disable-pip-version-check"]
    commands = [pip + ["wheel", "--no-deps", "--wheel-dir", str(out), str(REPOSITORY)]]
    targets = [(platform, version) for platform in (platforms or [None]) for version in (pythons or [None])]
    for platform, version in targets:
        target = []
        if platform or version:
            target = ["--only-binary=:all:"] + (["--platform", platform] if platform else []) \
                + (["--python-version", version] if version else [])
        torch_requirements = [requirement for requirement in requirements if _is_torch(requirement)]
        others = [requirement for requirement in requirements if not _is_torch(requirement)]
        if torch == "cpu":                  # torch and torchvision from PyTorch's CPU index, the rest from PyPI
            commands.append(pip + ["download", "--dest", str(out), "--index-url", CPU_TORCH_INDEX] + target
                            + torch_requirements)
            commands.append(pip + ["download", "--dest", str(out), "--find-links", str(out)] + target
                            + others + build_tools())
        else:
            commands.append(pip + ["download", "--dest", str(out)] + target + requirements + build_tools())
    return commands


def summary(out: Path) -> str:
    wheels = sorted(out.glob("*.whl"))
    total = sum(wheel.stat().st_size for wheel in wheels)
    largest = sorted(wheels, key=lambda wheel: wheel.stat().st_size, reverse=True)[:3]
    return (f"{len(wheels)} wheels, {total / 1e6:,.0f} MB in {out}; largest: "
            + ", ".join(f"{wheel.name} ({wheel.stat().st_size / 1e6:,.0f} MB)" for wheel in largest))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=REPOSITORY / "wheelhouse", help="folder for the wheels")
    parser.add_argument("--torch", choices=["default", "cpu"], default="default",
                        help="cpu: PyTorch's CPU-only wheels (much smaller on Linux and Windows)")
    parser.add_argument("--platforms", nargs="*", default=[], help="pip platform tags, e.g. win_amd64 macosx_11_0_arm64")
    parser.add_argument("--pythons", nargs="*", default=[], help="Python versions, e.g. 3.10 3.12")
    arguments = parser.parse_args(argv)
    arguments.out.mkdir(parents=True, exist_ok=True)
    for command in download_commands(arguments.out.resolve(), torch=arguments.torch, platforms=arguments.platforms,
                                     pythons=arguments.pythons):
        print("+", " ".join(command), flush=True)
        if subprocess.run(command).returncode != 0:
            print(f"error: that download failed (is the package index reachable?); {arguments.out} is incomplete",
                  file=sys.stderr)
            return 1
    print(summary(arguments.out))
    print(f"install from it with no index:  make lab WHEELHOUSE={arguments.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
