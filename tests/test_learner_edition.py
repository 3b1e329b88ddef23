"""The learner edition (scripts/learner_edition.py, `make learner`): no solutions, no outputs, every exercise intact.

The edition is written into a temporary folder; the tracked notebooks must not change. The learner editions of
the quick notebooks (00-02) then run top to bottom, once under nbval (as `make test` runs the tracked ones) and
once with nbclient to read their outputs: every exercise check must print ⏳ (not written yet), none ❌, and no
cell may fail, since the stand-in cells give later cells the reference answers.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("learner_edition", ROOT / "scripts" / "learner_edition.py")
learner_edition = importlib.util.module_from_spec(spec)
spec.loader.exec_module(learner_edition)

NOTEBOOKS = learner_edition.course_notebooks()
QUICK = [path.name for path in NOTEBOOKS if path.name[:2] in {"00", "01", "02"}]


def tags(cell) -> list[str]:
    return cell.metadata.get("tags", [])


def is_stub(cell) -> bool:
    return cell.cell_type == "code" and "# YOUR CODE HERE" in cell.source and "raise NotImplementedError" in cell.source


def is_check(cell) -> bool:
    return cell.cell_type == "code" and "checks.check_" in cell.source and learner_edition.SOLUTION_TAG not in tags(cell)


def digest(paths) -> str:
    return hashlib.sha256(b"".join(path.read_bytes() for path in paths)).hexdigest()


@pytest.fixture(scope="module")
def edition(tmp_path_factory):
    out = tmp_path_factory.mktemp("course") / "learner"
    before = digest(NOTEBOOKS)
    report = learner_edition.write_editions(out)
    assert digest(NOTEBOOKS) == before, "writing the learner edition changed the tracked notebooks"
    assert all(line.endswith("written") for line in report), report
    return out


@pytest.mark.parametrize("name", [path.name for path in NOTEBOOKS])
def test_no_solution_and_no_output_but_every_exercise(edition, name):
    original = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    learner = nbformat.read(edition / name, as_version=4)
    nbformat.validate(learner)
    assert not [cell for cell in learner.cells if learner_edition.SOLUTION_TAG in tags(cell)]
    assert not [cell.source[:60] for cell in learner.cells if cell.cell_type == "code" and (cell.outputs or cell.execution_count)]
    assert "widgets" not in learner.metadata
    solutions = [cell for cell in original.cells if learner_edition.SOLUTION_TAG in tags(cell)]
    assert solutions, f"{name} has no solution cells: is the tag still {learner_edition.SOLUTION_TAG!r}?"
    learner_code = "\n".join(cell.source for cell in learner.cells if cell.cell_type == "code")
    for cell in solutions:
        for solution_name in learner_edition.solution_names(cell.source):
            assert f"def {solution_name}(" not in learner_code, f"{name} still defines {solution_name}"
    # every other cell is there, in the same order, with the same source
    kept = [(cell.cell_type, cell.source) for cell in original.cells if learner_edition.SOLUTION_TAG not in tags(cell)]
    assert [(cell.cell_type, cell.source) for cell in learner.cells if learner_edition.STAND_IN_TAG not in tags(cell)] == kept
    assert sum(map(is_stub, learner.cells)) == sum(map(is_stub, original.cells)) > 0
    assert sum(map(is_check, learner.cells)) == sum(map(is_check, original.cells)) > 0
    # one stand-in where each solution was, naming the same solution
    stand_ins = [cell for cell in learner.cells if learner_edition.STAND_IN_TAG in tags(cell)]
    assert [cell.metadata["course"]["replaces"] for cell in stand_ins] == [cell.id for cell in solutions]
    for stand_in, solution in zip(stand_ins, solutions):
        for solution_name in learner_edition.solution_names(solution.source):
            assert f"{solution_name} = checks.reference(" in stand_in.source


def test_every_stand_in_names_a_reference_that_passes_its_check(edition):
    from course_utils import checks

    names = {line.split(" = ")[0][:-len("_solution")]
             for path in sorted(edition.glob("*.ipynb")) for cell in nbformat.read(path, as_version=4).cells
             if learner_edition.STAND_IN_TAG in tags(cell) for line in cell.source.splitlines() if " = checks.reference(" in line}
    assert len(names) >= 40
    cheap = sorted(name for name in names if name in {"class_counts", "softmax", "one_hot", "conv_output_size", "tokenize",
                                                      "quantize_int8", "read_images", "rnn_forward"})
    for name in cheap:
        assert getattr(checks, f"check_{name}")(checks.reference(name)), name


def test_existing_work_is_kept_and_solutions_come_back_around_it(tmp_path):
    out = tmp_path / "learner"
    learner_edition.write_editions(out)
    name = QUICK[0]
    work = nbformat.read(out / name, as_version=4)
    stub = next(index for index, cell in enumerate(work.cells) if is_stub(cell))
    work.cells[stub].source = work.cells[stub].source.replace("raise NotImplementedError", "return 'my answer'")
    work.cells.append(nbformat.v4.new_markdown_cell("My own notes."))
    nbformat.write(work, out / name)
    report = learner_edition.write_editions(out)
    assert any(line.startswith(f"learner/{name}: kept") for line in report)
    assert nbformat.read(out / name, as_version=4).cells[-1].source == "My own notes."
    (out / QUICK[1]).unlink()                                         # a notebook the learner deleted
    report = learner_edition.write_editions(out, solutions=True)
    expected = sum(learner_edition.SOLUTION_TAG in tags(cell) for cell in nbformat.read(ROOT / "notebooks" / name, as_version=4).cells)
    assert f"learner/{name}: {expected} solutions added" in report, report
    again = learner_edition.write_editions(out, solutions=True)     # a second run changes nothing more
    assert f"learner/{name}: 0 solutions added" in again, again
    released = nbformat.read(out / name, as_version=4)
    original = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    assert "return 'my answer'" in released.cells[stub].source and released.cells[-1].source == "My own notes."
    assert not [cell for cell in released.cells if learner_edition.STAND_IN_TAG in tags(cell)]
    solutions = [cell.source for cell in original.cells if learner_edition.SOLUTION_TAG in tags(cell)]
    assert [cell.source for cell in released.cells if learner_edition.SOLUTION_TAG in tags(cell)] == solutions
    assert all(not cell.outputs for cell in released.cells if cell.cell_type == "code")
    rebuilt = nbformat.read(out / QUICK[1], as_version=4)
    assert sum(learner_edition.SOLUTION_TAG in tags(cell) for cell in rebuilt.cells) > 0
    assert learner_edition.write_editions(out, force=True)[0].endswith("written")
    assert nbformat.read(out / name, as_version=4).cells[-1].source != "My own notes."


def test_a_stand_in_whose_solution_is_gone_is_reported(tmp_path):
    out = tmp_path / "learner"
    learner_edition.write_editions(out)
    name = QUICK[0]
    work = nbformat.read(out / name, as_version=4)
    stand_in = next(cell for cell in work.cells if learner_edition.STAND_IN_TAG in tags(cell))
    stand_in.metadata["course"]["replaces"] = "no-such-cell"
    nbformat.write(work, out / name)
    line = next(line for line in learner_edition.write_editions(out, solutions=True) if name in line)
    assert "1 stand-in cell(s) match no solution" in line, line


def test_a_solution_cell_without_a_solution_name_is_an_error():
    cell = nbformat.v4.new_code_cell("def helper():\n    return 1")
    cell.metadata["tags"] = [learner_edition.SOLUTION_TAG]
    with pytest.raises(ValueError, match="defines no name ending in '_solution'"):
        learner_edition.stand_in_cell(cell)


def test_learner_is_ignored_by_git():
    assert "/learner/" in (ROOT / ".gitignore").read_text().splitlines()


def test_quick_learner_notebooks_run_under_nbval(edition):
    paths = [str(edition / name) for name in QUICK]
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-o", "addopts=",
                          "--nbval-lax", "--nbval-current-env", "--rootdir", str(edition), *paths],
                         cwd=edition, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert " passed" in run.stdout and "failed" not in run.stdout


@pytest.mark.parametrize("name", QUICK)
def test_quick_learner_notebooks_show_waiting_checks_only(edition, name):
    from nbclient import NotebookClient

    notebook = nbformat.read(edition / name, as_version=4)
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(edition)}}).execute()
    errors = [output for cell in notebook.cells if cell.cell_type == "code" for output in cell.outputs
              if output.output_type == "error"]
    assert not errors, [f"{error.ename}: {error.evalue}" for error in errors]
    check_cells = [cell for cell in notebook.cells if is_check(cell)]
    texts = ["".join(output.get("text", "") for output in cell.outputs) for cell in check_cells]
    assert texts and all("⏳" in text for text in texts), [text[:120] for text in texts if "⏳" not in text]
    assert not any("❌" in text for text in texts)
    used = "\n".join("".join(output.get("text", "") for output in cell.outputs) for cell in notebook.cells if cell.cell_type == "code")
    assert "Using the reference" in used
    json.dumps(notebook)  # the executed notebook is still plain JSON
