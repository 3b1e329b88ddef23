"""The learner edition of the course: every notebook without its solutions and without outputs.

    python scripts/learner_edition.py                 (make learner)    write learner/NN_*.ipynb, keep existing ones
    python scripts/learner_edition.py --force         rewrite them all (a learner's work in learner/ is lost)
    python scripts/learner_edition.py --solutions     (make solutions)  put the solution cells back in learner/

The tracked notebooks in notebooks/ are the instructor's edition: solutions in cells tagged ``solution``
(hidden in JupyterLab only) and every output committed. The learner edition is made from them with nbconvert's
preprocessors, in this order:

1. ``SolutionStandIn`` (below) puts after each solution cell a one-line stand-in cell, tagged
   ``solution-stand-in``, that takes the exercise's reference answer under the solution's name
   (``softmax_solution = checks.reference("softmax")``), so later cells run as before when an exercise is
   not done yet;
2. nbconvert's ``TagRemovePreprocessor`` removes every cell tagged ``solution``;
3. nbconvert's ``ClearOutputPreprocessor`` removes every output and execution count (and the cells' timing
   metadata), and ``DropWidgetState`` the saved state of the widgets those outputs showed.

learner/ is ignored by git, so a learner's edits never touch the tracked notebooks and ``git pull`` never
conflicts. A notebook already in learner/ is kept (it may hold a learner's work) unless ``--force`` is given.
``--solutions`` replaces each stand-in cell of the notebooks in learner/ by the solution cell it stands for
(outputs cleared), leaving every other cell, and so the learner's work, as it is; it writes a missing notebook
as the learner edition with its solutions.
"""

from __future__ import annotations

import argparse
import ast
import copy
import sys
from pathlib import Path

import nbformat
from nbconvert.preprocessors import ClearOutputPreprocessor, Preprocessor, TagRemovePreprocessor

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
SOLUTION_TAG = "solution"
STAND_IN_TAG = "solution-stand-in"
SOLUTION_SUFFIX = "_solution"


def solution_names(source: str) -> list[str]:
    """The names ending in ``_solution`` that a solution cell defines (functions, classes or assignments)."""
    names = []
    for node in ast.parse(source).body:
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [target.id for target in node.targets if isinstance(target, ast.Name)]
    return [name for name in names if name.endswith(SOLUTION_SUFFIX)]


def stand_in_cell(solution_cell) -> nbformat.NotebookNode:
    """The cell that replaces ``solution_cell`` in the learner edition."""
    names = solution_names(solution_cell.source)
    if not names:
        raise ValueError(f"a cell tagged {SOLUTION_TAG!r} defines no name ending in {SOLUTION_SUFFIX!r}:\n"
                         f"{solution_cell.source[:200]}")
    lines = ["# The solution is not in the learner edition; later cells use the reference answer until yours passes."]
    lines += [f"{name} = checks.reference({name[:-len(SOLUTION_SUFFIX)]!r})" for name in names]
    cell = nbformat.v4.new_code_cell("\n".join(lines))
    cell.metadata["tags"] = [STAND_IN_TAG]
    cell.metadata["course"] = {"replaces": solution_cell.get("id")}
    return cell


class SolutionStandIn(Preprocessor):
    """Put a stand-in cell after every cell tagged ``solution`` (which TagRemovePreprocessor then removes)."""

    def preprocess(self, nb, resources):
        cells = []
        for cell in nb.cells:
            cells.append(cell)
            if SOLUTION_TAG in cell.metadata.get("tags", []):
                cells.append(stand_in_cell(cell))
        nb.cells = cells
        return nb, resources


class DropWidgetState(Preprocessor):
    """Remove the saved state of the widgets, which only the cleared outputs used."""

    def preprocess(self, nb, resources):
        nb.metadata.pop("widgets", None)
        return nb, resources


def learner_edition(notebook: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The learner edition of one notebook of the instructor's edition (which is left unchanged)."""
    edition = copy.deepcopy(notebook)
    for preprocessor in (SolutionStandIn(), TagRemovePreprocessor(remove_cell_tags={SOLUTION_TAG}, enabled=True),
                         ClearOutputPreprocessor(remove_metadata_fields={"collapsed", "scrolled", "execution"}),
                         DropWidgetState()):
        edition, _ = preprocessor.preprocess(edition, {})
    return edition


def with_solutions(edition: nbformat.NotebookNode, notebook: nbformat.NotebookNode) -> tuple[nbformat.NotebookNode, int, int]:
    """``edition`` (a learner's notebook) with each stand-in cell replaced by the solution cell it stands for.

    Returns (the notebook, solutions put back, stand-in cells left because no solution has their cell id).
    """
    solutions = {cell.get("id"): cell for cell in notebook.cells if SOLUTION_TAG in cell.metadata.get("tags", [])}
    result = copy.deepcopy(edition)
    cells, added, unmatched = [], 0, 0
    for cell in result.cells:
        replaced = cell.metadata.get("course", {}).get("replaces") if STAND_IN_TAG in cell.metadata.get("tags", []) else None
        if replaced in solutions:
            solution = copy.deepcopy(solutions[replaced])
            solution.outputs, solution.execution_count = [], None
            cells.append(solution)
            added += 1
        else:
            unmatched += STAND_IN_TAG in cell.metadata.get("tags", [])
            cells.append(cell)
    result.cells = cells
    return result, added, unmatched


def course_notebooks() -> list[Path]:
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


def write_editions(out: Path, *, force: bool = False, solutions: bool = False) -> list[str]:
    """Write the learner edition of every notebook into ``out``; returns one line per notebook saying what happened."""
    out.mkdir(parents=True, exist_ok=True)
    report = []
    for path in course_notebooks():
        notebook = nbformat.read(path, as_version=4)
        target = out / path.name
        if solutions:
            current = nbformat.read(target, as_version=4) if target.exists() else learner_edition(notebook)
            released, added, unmatched = with_solutions(current, notebook)
            nbformat.write(released, target)
            line = f"{target.relative_to(out.parent)}: {added} solution{'s' if added != 1 else ''} added"
            if unmatched:
                line += (f"; {unmatched} stand-in cell(s) match no solution of notebooks/{path.name} (its cells changed "
                         "since this copy was written): compare with the instructor's edition")
            report.append(line)
        elif target.exists() and not force:
            report.append(f"{target.relative_to(out.parent)}: kept (it may hold your work; --force rewrites it)")
        else:
            nbformat.write(learner_edition(notebook), target)
            report.append(f"{target.relative_to(out.parent)}: written")
    return report


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "learner", help="folder of the learner edition (default learner/)")
    parser.add_argument("--force", action="store_true", help="rewrite notebooks that already exist there")
    parser.add_argument("--solutions", action="store_true", help="put the solution cells back into the notebooks there")
    arguments = parser.parse_args(argv)
    if arguments.force and arguments.solutions:
        parser.error("--force and --solutions do not go together")
    for line in write_editions(arguments.out.resolve(), force=arguments.force, solutions=arguments.solutions):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
