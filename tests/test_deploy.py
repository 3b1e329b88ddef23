"""The service needs torch and numpy only: proven by running it where nothing else can be imported.

deploy/Dockerfile installs torch and numpy and nothing more. There is no Docker engine on most machines that run
these tests, so the proof is a Python started without site-packages (``-S``) whose path holds the standard
library, the repository, and links to torch, numpy and what they need: what ``pip install torch numpy`` gives.
Nothing else (matplotlib, ipywidgets, IPython, tqdm, torchvision, jupyter, pytest, ...) can be imported there.
In it, deploy/prepare_model.py trains and saves the served model, then the service answers /health and /predict.
Where a Docker engine answers (``docker info``), a second test builds the image and calls it.
"""

from __future__ import annotations

import importlib.metadata as metadata
import importlib.util
import json
import re
import shutil
import subprocess
import sys
import textwrap
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ALLOWED = ("torch", "numpy")


def _distribution_closure(names) -> set[str]:
    """The distributions ``names`` need, with everything they need in turn (extras left out)."""
    seen, todo = set(), [re.sub(r"[-_.]+", "-", name).lower() for name in names]
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        try:
            requirements = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            continue
        for requirement in requirements:
            if "extra ==" not in requirement:
                todo.append(re.sub(r"[-_.]+", "-", re.split(r"[\s;<>=!~\[(]", requirement, maxsplit=1)[0]).lower())
    return seen


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _packages_distributions() -> dict[str, list[str]]:
    """Top-level module -> distributions, as ``importlib.metadata.packages_distributions()`` gives on Python 3.11+.

    Python 3.10's version reads only ``top_level.txt``, which wheels built without setuptools (numpy, torch) lack;
    like 3.11, fall back on the first part of each installed file's path.
    """
    mapping: dict[str, list[str]] = {}
    for distribution in metadata.distributions():
        declared = (distribution.read_text("top_level.txt") or "").split()
        inferred = {file.parts[0] if len(file.parts) > 1 else file.with_suffix("").name
                    for file in distribution.files or () if file.suffix == ".py"}
        for module in declared or inferred:
            mapping.setdefault(module, []).append(distribution.metadata["Name"])
    return mapping


def torch_and_numpy_only(folder: Path) -> Path:
    """Fill ``folder`` with links to torch, numpy and what they need (modules and their metadata), nothing else.

    Run with ``python -S`` and ``folder`` first on ``sys.path``, this is the container's ``pip install torch numpy``:
    any other module (matplotlib, ipywidgets, IPython, tqdm, torchvision, ...) is simply not there.
    """
    allowed = _distribution_closure(ALLOWED)
    for module, distributions in _packages_distributions().items():
        spec = importlib.util.find_spec(module) if any(_normal(d) in allowed for d in distributions) else None
        if spec is None or (folder / module).exists():
            continue
        if spec.submodule_search_locations:
            (folder / module).symlink_to(list(spec.submodule_search_locations)[0], target_is_directory=True)
        elif spec.origin and Path(spec.origin).is_file():
            (folder / Path(spec.origin).name).symlink_to(spec.origin)
    for distribution in metadata.distributions():
        where = getattr(distribution, "_path", None)
        if where is not None and _normal(distribution.metadata["Name"]) in allowed and not (folder / where.name).exists():
            (folder / where.name).symlink_to(where, target_is_directory=True)
    return folder


def run_isolated(program: str, site: Path, *arguments: str) -> subprocess.CompletedProcess:
    """Run ``program`` with no site-packages: only the standard library, ``site`` and the repository."""
    prelude = f"import sys; sys.path[:0] = [{str(site)!r}, {str(ROOT)!r}]\n"
    return subprocess.run([sys.executable, "-S", "-c", prelude + program, *arguments], capture_output=True, text=True,
                          cwd=ROOT, timeout=600)


SCENARIO = textwrap.dedent("""
    import json, runpy, sys
    target = sys.argv[1]
    sys.argv = ["prepare_model.py", target]
    runpy.run_path("deploy/prepare_model.py", run_name="__main__")
    from course_utils import data, serve
    server = serve.make_server(target)
    thread = serve.start_in_background(server)
    try:
        health = serve.call(serve.url(server, "/health"))
        splits = data.load_mnist()
        answer = serve.call(serve.url(server, "/predict"), {"image": splits.test_images[0].tolist()})
        drawing = serve.call(serve.url(server, "/predict"), {"format": "drawing", "image": [[255] * 3] * 40})
        import urllib.request
        with urllib.request.urlopen(serve.url(server, "/"), timeout=10) as response:
            page = {"status": response.status, "csp": response.headers["Content-Security-Policy"],
                    "has_pad": b'id="pad"' in response.read()}
    finally:
        serve.stop(server, thread)
    blocked = sorted(name for name in ("matplotlib", "ipywidgets", "IPython", "tqdm", "torchvision") if name in sys.modules)
    print("RESULT " + json.dumps({"health": health, "answer": answer, "label": int(splits.test_labels[0]), "loaded": blocked,
                                  "drawing": drawing, "page": page}))
""")


def test_the_isolated_run_has_torch_and_numpy_and_nothing_else(tmp_path):
    site = torch_and_numpy_only(tmp_path)
    run = run_isolated("import numpy, torch; print(torch.ones(2).sum().item())", site)
    assert run.returncode == 0 and run.stdout.strip() == "2.0", run.stderr[-2000:]
    for name in ("matplotlib", "ipywidgets", "IPython", "tqdm", "torchvision", "pytest"):
        run = run_isolated(f"import {name}", site)
        assert "ModuleNotFoundError" in run.stderr, f"{name} should be missing in the torch-and-numpy-only run"


def test_prepare_model_and_service_run_with_torch_and_numpy_only(tmp_path):
    site = tmp_path / "site"
    site.mkdir()
    target = tmp_path / "model" / "mnist_cnn.pt"
    run = run_isolated(SCENARIO, torch_and_numpy_only(site), str(target))
    assert run.returncode == 0, f"the service needs more than torch and numpy:\n{run.stderr[-3000:]}"
    result = json.loads(run.stdout.split("RESULT ", 1)[1])
    assert result["loaded"] == []
    assert result["health"][0] == 200 and result["health"][1]["status"] == "ok"
    status, answer = result["answer"]
    assert status == 200 and answer["predictions"] == [result["label"]]
    assert abs(sum(answer["probabilities"][0]) - 1) < 1e-4
    status, answer = result["drawing"]           # the drawing path (mnist_style) needs nothing more either
    assert status == 200 and answer["predictions"] == [1] and len(answer["inputs"][0]) == 28
    assert result["page"]["status"] == 200 and result["page"]["has_pad"] and "default-src 'none'" in result["page"]["csp"]
    card = json.loads((target.parent / "mnist_cnn.pt.json").read_text())
    assert card["architecture"] == "course_utils.models.CNN" and card["test_accuracy"] > 0.9


def _docker_works() -> bool:
    if shutil.which("docker") is None:
        return False
    return subprocess.run(["docker", "info"], capture_output=True, timeout=60).returncode == 0


@pytest.mark.skipif(not _docker_works(), reason="no Docker engine here (`docker info` fails); "
                    "test_prepare_model_and_service_run_with_torch_and_numpy_only is the proof that its install line suffices")
def test_docker_image_builds_and_answers():  # pragma: no cover - needs a Docker engine
    tag = "course-mnist-digits-test"
    subprocess.run(["docker", "build", "-f", "deploy/Dockerfile", "-t", tag, "."], cwd=ROOT, check=True, timeout=1800)
    container = subprocess.run(["docker", "run", "-d", "--rm", "-p", "127.0.0.1:18080:8000", tag],
                               capture_output=True, text=True, check=True).stdout.strip()
    try:
        for _ in range(60):
            try:
                with urllib.request.urlopen("http://127.0.0.1:18080/health", timeout=2) as response:
                    assert json.load(response)["status"] == "ok"
                    return
            except OSError:
                time.sleep(1)
        pytest.fail("the container did not answer /health within a minute")
    finally:
        subprocess.run(["docker", "stop", container], capture_output=True)
