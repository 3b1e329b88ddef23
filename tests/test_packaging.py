"""The two ways to install (pip and conda) must ask for the same packages."""

import pathlib
import re
import sys

if sys.version_info >= (3, 11):
    import tomllib
else:  # Python 3.10: the same parser, published as tomli (a test dependency there)
    import tomli as tomllib

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[ ;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def _pyproject_names() -> set[str]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = list(project["dependencies"])
    for extra in project.get("optional-dependencies", {}).values():
        requirements += extra
    return {_name(requirement) for requirement in requirements}


def _environment_names() -> set[str]:
    names = set()
    text = (ROOT / "environment.yml").read_text()
    for line in text[text.index("dependencies:"):].splitlines():
        match = re.match(r"^\s+- (?!-e )([A-Za-z0-9_.\-]+)", line.split("#")[0])
        if match and match.group(1) not in {"pip", "python"}:
            names.add(_name(match.group(1)))
    return names


def test_environment_yml_and_pyproject_name_the_same_packages():
    assert _environment_names() == _pyproject_names()


def test_environment_yml_installs_the_course_itself():
    assert "- -e ." in (ROOT / "environment.yml").read_text()


def test_ci_runs_the_learners_test_command():
    assert "make test" in (ROOT / ".ci" / "run").read_text()


def _binder_lines() -> list[str]:
    text = (ROOT / "binder" / "requirements.txt").read_text()
    return [line.split("#")[0].strip() for line in text.splitlines() if line.split("#")[0].strip()]


def test_binder_installs_the_learner_dependencies_with_cpu_only_torch():
    lines = _binder_lines()
    names = {_name(line) for line in lines if not line.startswith("-")}
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert names == {_name(requirement) for requirement in project["dependencies"]}
    assert "--extra-index-url https://download.pytorch.org/whl/cpu" in lines
    for package in ("torch", "torchvision"):
        pinned = [line for line in lines if _name(line) == package]
        assert pinned and pinned[0].endswith("+cpu"), f"binder must pin the CPU-only {package}, got {pinned}"


def test_binder_post_build_installs_the_course_and_the_learner_edition():
    post_build = ROOT / "binder" / "postBuild"
    text = post_build.read_text()
    assert text.startswith("#!/bin/bash") and post_build.stat().st_mode & 0o111
    assert "pip install --no-deps -e ." in text and "scripts/learner_edition.py" in text
