"""The install paths of the README: what `make` runs for each choice, the Python check, the wheelhouse and the pre-flight.

The Makefile tests read the commands `make -n -B` would run (nothing is installed); the wheelhouse test builds a
real, small wheelhouse (the course's own wheel and one dependency) and installs it into a fresh virtual
environment with pip's `--no-index`, so no package index is asked.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
CPU_INDEX = "https://download.pytorch.org/whl/cpu"
needs_make = pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")


def _load_script(name):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module            # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _planned(tmp_path, target, *variables):
    """The shell commands `make` would run for ``target``, in a throw-away .venv location, as lines."""
    result = subprocess.run(["make", "-n", "-B", target, f"VENV={tmp_path / 'venv'}", *variables],
                            cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    return result.stdout.splitlines()


def _pip_installs(lines):
    return [line for line in lines if "-m pip install" in line]


@needs_make
def test_the_learner_install_has_no_test_tools_and_the_test_install_adds_them(tmp_path):
    lab = _pip_installs(_planned(tmp_path, "lab"))
    assert lab and lab[-1].endswith("-e ."), lab
    assert not any("[test]" in line for line in lab), "make lab must not install pytest, nbval or Playwright"
    test = _pip_installs(_planned(tmp_path, "test"))
    assert test[-1].endswith('-e ".[test]"'), test


@needs_make
def test_pip_shows_its_progress(tmp_path):
    for line in _pip_installs(_planned(tmp_path, "test")):
        assert "--quiet" not in line and " -q " not in line, line
        assert "--progress-bar on" in line


@needs_make
def test_torch_cpu_installs_torch_first_from_the_cpu_index_and_the_default_never_asks_it(tmp_path):
    cpu = _pip_installs(_planned(tmp_path, "setup", "TORCH=cpu"))
    assert cpu[0].endswith(f"--index-url {CPU_INDEX} torch torchvision"), cpu
    assert cpu[1].endswith("-e ."), cpu
    default = _planned(tmp_path, "setup")
    assert not any(CPU_INDEX in line for line in default)
    assert len(_pip_installs(default)) == 1


@needs_make
def test_a_wheelhouse_install_asks_no_index_at_all(tmp_path):
    for torch in ("default", "cpu"):
        installs = _pip_installs(_planned(tmp_path, "test", f"TORCH={torch}", "WHEELHOUSE=/media/usb/wheelhouse"))
        assert installs
        for line in installs:
            assert "--no-index --find-links /media/usb/wheelhouse" in line, line
            assert CPU_INDEX not in line, line


@needs_make
def test_an_unknown_torch_choice_is_refused(tmp_path):
    result = subprocess.run(["make", "-n", "setup", "TORCH=gpu", f"VENV={tmp_path / 'venv'}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0 and "TORCH must be 'default' or 'cpu'" in result.stderr


@needs_make
def test_a_python_older_than_3_10_stops_at_once_with_one_line(tmp_path):
    old_python = tmp_path / "python3.9"
    old_python.write_text('#!/bin/sh\nif [ "$1" = "--version" ]; then echo "Python 3.9.18"; exit 0; fi\n'
                          'if [ "$1" = "-c" ]; then case "$2" in *version_info\\[:2\\]*) echo 3.9;; *) exit 1;; esac; fi\n')
    old_python.chmod(0o755)
    venv = tmp_path / "venv"
    result = subprocess.run(["make", "setup", f"PYTHON={old_python}", f"VENV={venv}"], cwd=ROOT,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "needs Python 3.10 or newer" in result.stderr and "Python 3.9.18" in result.stderr, result.stderr
    assert not venv.exists(), "nothing may be created with a Python that is too old"


@needs_make
def test_the_stamps_name_the_python_so_another_python_redoes_the_set_up(tmp_path):
    lines = _planned(tmp_path, "setup")
    version = f"{sys.version_info[0]}.{sys.version_info[1]}"
    assert any(line.startswith("touch") and line.endswith(f".course-installed-py{version}") for line in lines), lines
    assert any("rebuilding" in line for line in lines), "the recipe must rebuild a .venv made with another Python"


def test_the_wheelhouse_commands_cover_the_course_its_dependencies_and_the_build_tools(tmp_path):
    wheelhouse = _load_script("build_wheelhouse")
    requirements = wheelhouse.learner_requirements()
    assert any(requirement.startswith("torch") for requirement in requirements)
    assert not any(requirement.startswith(("pytest", "nbval", "playwright")) for requirement in requirements)
    commands = wheelhouse.download_commands(tmp_path, platforms=["win_amd64", "macosx_11_0_arm64"], pythons=["3.12"])
    assert commands[0][4:6] == ["wheel", "--no-deps"]
    assert len(commands) == 3                     # the course's wheel, then one download per platform
    for command in commands[1:]:
        assert "--only-binary=:all:" in command and "--python-version" in command and "setuptools>=77" in command
    cpu = wheelhouse.download_commands(tmp_path, torch="cpu")
    assert cpu[1][-2:] == ["torch>=2.1", "torchvision>=0.16"] and wheelhouse.CPU_TORCH_INDEX in cpu[1]
    assert not any(wheelhouse._is_torch(requirement) for requirement in cpu[2][cpu[2].index(str(tmp_path)) + 1:])


def test_a_small_real_wheelhouse_installs_with_no_index(tmp_path):
    """The course's wheel and tqdm, downloaded once, then installed into a new venv without any index."""
    house = tmp_path / "wheelhouse"
    pip = [sys.executable, "-m", "pip", "--disable-pip-version-check"]
    built = subprocess.run(pip + ["wheel", "--no-deps", "--no-build-isolation", "--wheel-dir", str(house), str(ROOT)],
                           capture_output=True, text=True, timeout=300)
    assert built.returncode == 0, built.stderr[-2000:]
    fetched = subprocess.run(pip + ["download", "--no-deps", "--only-binary=:all:", "--dest", str(house), "tqdm"],
                             capture_output=True, text=True, timeout=300)
    assert fetched.returncode == 0, f"could not download tqdm's wheel (is a package index reachable?):\n{fetched.stderr[-2000:]}"
    assert {wheel.name.split("-")[0] for wheel in house.glob("*.whl")} == {"course_utils", "tqdm"}
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    venv_python = venv / ("Scripts" if os.name == "nt" else "bin") / "python"
    environment = {**os.environ, "PIP_FIND_LINKS": "", "PIP_EXTRA_INDEX_URL": "", "PIP_INDEX_URL": ""}
    offline = [str(venv_python), "-m", "pip", "install", "--disable-pip-version-check", "--no-index",
               "--find-links", str(house)]
    for arguments in (["tqdm"], ["--no-deps", "course-utils"]):
        installed = subprocess.run(offline + arguments, capture_output=True, text=True, timeout=300, env=environment)
        assert installed.returncode == 0, installed.stdout[-2000:] + installed.stderr[-2000:]
    listed = subprocess.run([str(venv_python), "-m", "pip", "list", "--format=freeze"], capture_output=True, text=True,
                            timeout=120, env=environment).stdout
    assert "course-utils==" in listed and "tqdm==" in listed, listed


def test_the_preflight_reports_each_problem_with_its_fix():
    preflight = _load_script("preflight")
    assert preflight.check_python((3, 9, 18)).status == "FAIL"
    assert preflight.check_python((3, 10, 0)).status == "ok"
    missing = preflight.check_packages(("numpy", "a-package-that-is-not-there"))
    assert missing.status == "FAIL" and "a-package-that-is-not-there" in missing.detail and "make lab" in missing.fix
    assert preflight.check_memory(int(0.5e9)).status == "FAIL"
    assert preflight.check_memory(None).status == "warn"
    assert preflight.check_memory(int(8e9)).status == "ok"
    assert preflight.check_disk(int(0.2e9)).status == "FAIL"
    slow = preflight.check_speed(60.0, "cpu")
    assert slow.status == "warn" and "notebook 04 should take about" in slow.detail
    findings = [preflight.Finding("python", "ok", ""), preflight.Finding("memory", "FAIL", "", "close programs"),
                preflight.Finding("disk", "FAIL", "", "free disk")]
    assert preflight.verdict(findings) == "NOT READY: memory: close programs"
    assert preflight.verdict(findings[:1]) == "READY"


def test_available_memory_is_read_from_proc_meminfo(tmp_path):
    preflight = _load_script("preflight")
    meminfo = tmp_path / "meminfo"
    meminfo.write_text("MemTotal:       16000000 kB\nMemFree:         1000000 kB\nMemAvailable:    3000000 kB\n")
    assert preflight.available_memory_bytes(meminfo) == 3_000_000 * 1024


def test_the_preflight_runs_and_ends_in_one_verdict_line():
    result = subprocess.run([sys.executable, str(ROOT / "scripts" / "preflight.py"), "--quick"], cwd=ROOT,
                            capture_output=True, text=True, timeout=300)
    lines = result.stdout.strip().splitlines()
    assert lines[-1] == "READY" or lines[-1].startswith("NOT READY: "), result.stdout + result.stderr
    assert result.returncode == (0 if lines[-1] == "READY" else 1)
    for name in ("python", "packages", "data", "memory", "disk", "device", "speed"):
        assert any(line.split()[1:2] == [name] for line in lines), f"no {name} line in:\n{result.stdout}"
