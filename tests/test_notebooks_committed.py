"""The committed notebooks: executed top to bottom, no errors, small, and exercises wired as CONTRIBUTING.md says."""

import json
import pathlib
import re

import pytest

NOTEBOOK_DIR = pathlib.Path(__file__).resolve().parents[1] / "notebooks"
NOTEBOOKS = sorted(NOTEBOOK_DIR.glob("[0-9][0-9]_*.ipynb"))
MAX_BYTES = 2_000_000


def _load(path):
    return json.loads(path.read_text(encoding="utf-8"))


def _code_cells(notebook):
    return [cell for cell in notebook["cells"] if cell["cell_type"] == "code"]


def _source(cell):
    return "".join(cell["source"])


def test_notebooks_exist():
    assert NOTEBOOKS, f"no notebooks found in {NOTEBOOK_DIR}"
    assert NOTEBOOKS[0].name.startswith("00_")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_executed_top_to_bottom(path):
    counts = [cell.get("execution_count") for cell in _code_cells(_load(path))]
    assert counts == list(range(1, len(counts) + 1)), f"{path.name}: run `make execute` (execution counts {counts[:10]}…)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_error_outputs(path):
    errors = [_source(cell)[:60] for cell in _code_cells(_load(path))
              if any(output.get("output_type") == "error" for output in cell.get("outputs", []))]
    assert not errors, f"{path.name}: cells with error output: {errors}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_under_two_megabytes(path):
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size / 1e6:.1f} MB"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_exercise_solutions_are_hidden_and_self_checking(path):
    cells = _code_cells(_load(path))
    solutions = [cell for cell in cells if "solution" in cell.get("metadata", {}).get("tags", [])]
    assert len(solutions) >= 2, f"{path.name}: at least two exercises with solution cells expected"
    for cell in solutions:
        source = _source(cell)
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True, f"{path.name}: solution not hidden: {source[:60]}"
        assert re.search(r"assert checks\.check_\w+\(", source), f"{path.name}: solution must assert its check: {source[:60]}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_opens_and_closes_as_the_course_does(path):
    markdown = "\n".join(_source(cell) for cell in _load(path)["cells"] if cell["cell_type"] == "markdown")
    for heading in ("What you will learn", "## Summary", "## Questions to think about", "## Going further"):
        assert heading in markdown, f"{path.name}: missing '{heading}'"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_no_star_imports(path):
    for cell in _code_cells(_load(path)):
        assert not re.search(r"^\s*from\s+\S+\s+import\s+\*", _source(cell), re.M), f"{path.name}: star import"
