"""Smoke tests of benchmarks/bench_training.py and benchmarks/bench_notebooks.py.

They run the harness on a tiny model and a few hundred images (seconds) and
check the structure of the table and the JSON. No speed is asserted: speed
targets belong to the benchmark (BENCHMARKS.md), not to the tests.
"""

import importlib.util
import json
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest
import torch
from torch import nn

REPOSITORY = Path(__file__).resolve().parents[1]


def _load(name):
    spec = importlib.util.spec_from_file_location(name, REPOSITORY / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bench_training = _load("bench_training")
bench_notebooks = _load("bench_notebooks")

CPU = torch.device("cpu")
TINY_IMAGES = 192


def tiny_model():
    return nn.Sequential(nn.Flatten(), nn.Linear(28 * 28, 10))


def broken_model():
    raise RuntimeError("this model cannot be built")


@pytest.fixture(scope="module")
def tiny_report():
    threads = torch.get_num_threads()
    report = bench_training.run_benchmark(
        ["tiny", "broken", "no_such_model"], CPU, train_size=TINY_IMAGES, repeats=1, warmup_batches=1, batch_size=64,
        factories={"tiny": tiny_model, "broken": broken_model}, log=lambda *args, **kwargs: None)
    assert torch.get_num_threads() == threads, "the thread comparison must restore the thread count"
    return report


def test_report_has_every_pipeline_and_ratio(tiny_report):
    assert tiny_report["settings"]["train_images"] == TINY_IMAGES
    assert tiny_report["machine"]["device"] == "cpu" and tiny_report["machine"]["cpu_cores"] >= 1
    result = tiny_report["models"]["tiny"]
    assert result["status"] == "ok"
    assert set(result["pipelines"]) == {"textbook", "course", "minimal"}
    for figures in result["pipelines"].values():
        assert figures["epoch_seconds"] > 0 and len(figures["runs_seconds"]) == 1
        assert figures["images_per_second"] == pytest.approx(TINY_IMAGES / figures["epoch_seconds"], rel=0.01)
    pipelines = result["pipelines"]
    assert result["speedup_b_over_a"] == pytest.approx(pipelines["textbook"]["epoch_seconds"] / pipelines["course"]["epoch_seconds"], rel=0.01)
    assert result["time_ratio_b_over_c"] == pytest.approx(pipelines["course"]["epoch_seconds"] / pipelines["minimal"]["epoch_seconds"], rel=0.01)
    assert tiny_report["data_only"]["textbook_seconds"] > 0


def test_thread_comparison_on_cpu(tiny_report):
    threads = tiny_report["models"]["tiny"]["threads"]
    if torch.get_num_threads() == 1:
        assert threads is None
        return
    assert set(threads["course_loop"]) == {"1", str(torch.get_num_threads())}
    assert threads["one_thread_over_all_cores"] > 0


def test_unknown_and_broken_models_are_reported_not_fatal(tiny_report):
    assert tiny_report["models"]["no_such_model"]["status"] == "unavailable"
    assert "unknown model" in tiny_report["models"]["no_such_model"]["reason"]
    assert tiny_report["models"]["broken"] == {"status": "unavailable", "reason": "RuntimeError: this model cannot be built"}


def test_table(tiny_report):
    table = bench_training.format_table(tiny_report)
    for expected in ("(a) textbook", "(b) course", "(c) minimal", "b/a speed-up", "b/c time ratio", "no_such_model unavailable"):
        assert expected in table


def test_command_line_quick_run(tmp_path, capsys):
    out = tmp_path / "sub" / "quick.json"
    report = bench_training.main(["--quick", "--models", "mlp", "--train-size", "128", "--no-threads", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "JSON written to" in printed and str(out) in printed
    saved = json.loads(out.read_text())
    assert saved == json.loads(json.dumps(report))
    assert saved["settings"]["quick"] is True and saved["settings"]["repeats"] == 1
    assert saved["models"]["mlp"]["status"] == "ok" and saved["models"]["mlp"]["threads"] is None


def test_notebook_selection():
    every = bench_notebooks.find_notebooks()
    assert every and all(path.suffix == ".ipynb" for path in every)
    assert bench_notebooks.find_notebooks("00") == [path for path in every if path.name.startswith("00")]
    with pytest.raises(SystemExit):
        bench_notebooks.find_notebooks("no_such_notebook")


def test_notebook_is_executed_without_touching_the_file(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell("answer = 6 * 7"), nbformat.v4.new_code_cell("assert answer == 42")]
    path = tmp_path / "99_tiny.ipynb"
    nbformat.write(notebook, str(path))
    before = path.read_bytes()
    result = bench_notebooks.execute_notebook(path, timeout=120)
    assert result == {**result, "notebook": "99_tiny.ipynb", "code_cells": 2, "status": "ok", "error": None}
    assert result["seconds"] > 0
    if sys.platform != "win32":   # the kernel's peak memory: at least the interpreter and numpy, far below 10 GB
        assert 20 < result["peak_memory_mb"] < 10_000, result
    assert path.read_bytes() == before
    report = {"machine": {"device": "cpu", "gpu": None, "cpu": "test", "cpu_cores": 1, "torch": torch.__version__, "date": "today"},
              "notebooks": [result], "total_seconds": result["seconds"]}
    assert "99_tiny.ipynb" in bench_notebooks.format_table(report) and "total" in bench_notebooks.format_table(report)


def test_peak_memory_is_read_from_the_last_cell_and_missing_when_not_printed():
    import nbformat

    printed = nbformat.v4.new_code_cell("")
    printed.outputs = [nbformat.v4.new_output("stream", name="stdout", text="PEAK_RSS_BYTES 1234567\n")]
    assert bench_notebooks.peak_memory_bytes(printed) == 1_234_567
    assert bench_notebooks.peak_memory_bytes(nbformat.v4.new_code_cell("")) is None
