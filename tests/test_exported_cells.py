"""What a learner reads is what later notebooks run.

A notebook that defines a model or a loop that later notebooks (or the service) reuse writes it on its page, in a
code cell tagged ``export``. Every function and class in such a cell must be defined, identically, exactly once in
``course_utils``: the two are compared as parsed code (``ast.dump``), so white space and comments may differ, but
not a name, a default, a docstring or an operator.
"""

from __future__ import annotations

import ast
import difflib
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXPECTED_EXPORTS = {"MLP": "03", "train_epoch": "03", "CNN": "04", "images_to_rows": "05", "RowClassifier": "05", "mnist_style": "06"}
DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def exported_cells() -> list[tuple[str, str]]:
    """(notebook name, cell source) of every code cell tagged ``export``."""
    cells = []
    for path in NOTEBOOKS:
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            if cell["cell_type"] == "code" and "export" in cell.get("metadata", {}).get("tags", []):
                cells.append((path.name, "".join(cell["source"])))
    return cells


def exported_definitions() -> list[tuple[str, ast.AST]]:
    return [(notebook, node) for notebook, source in exported_cells()
            for node in ast.parse(source).body if isinstance(node, DEFINITIONS)]


def library_definitions(name: str) -> list[tuple[Path, ast.AST]]:
    """Every top-level definition called ``name`` in course_utils."""
    found = []
    for path in sorted((ROOT / "course_utils").rglob("*.py")):
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            if isinstance(node, DEFINITIONS) and node.name == name:
                found.append((path, node))
    return found


def difference(page: ast.AST, library: ast.AST) -> str:
    """Empty when the two definitions parse to the same code, else a readable diff of the two."""
    if ast.dump(page) == ast.dump(library):
        return ""
    lines = difflib.unified_diff(ast.unparse(library).splitlines(), ast.unparse(page).splitlines(),
                                 "course_utils", "notebook page", lineterm="")
    return "\n".join(lines) or "the two differ in their parsed structure only"


def test_every_expected_definition_is_exported_by_its_notebook():
    exported = {node.name: notebook[:2] for notebook, node in exported_definitions()}
    missing = {name: number for name, number in EXPECTED_EXPORTS.items() if exported.get(name) != number}
    assert not missing, f"these should be defined in a cell tagged 'export' of notebook NN: {missing}"


def test_export_cells_hold_definitions_only():
    for notebook, source in exported_cells():
        others = [type(node).__name__ for node in ast.parse(source).body
                  if not isinstance(node, DEFINITIONS + (ast.Import, ast.ImportFrom))]
        assert not others, f"{notebook}: an export cell holds only definitions, found {others}; move them to another cell"


@pytest.mark.parametrize("notebook, node", exported_definitions(), ids=lambda value: getattr(value, "name", value))
def test_exported_definition_is_identical_in_course_utils(notebook, node):
    matches = library_definitions(node.name)
    assert len(matches) == 1, (f"{notebook} exports {node.name}: course_utils must define it exactly once, "
                               f"found {len(matches)} ({[str(path.relative_to(ROOT)) for path, _ in matches]})")
    path, library_node = matches[0]
    diff = difference(node, library_node)
    assert not diff, (f"{node.name} in {notebook} differs from {path.relative_to(ROOT)}; "
                      f"copy one onto the other so they match:\n{diff}")


def test_the_comparison_ignores_layout_but_catches_a_changed_default():
    library = ast.parse("def f(x, scale=2):\n    '''Doc.'''\n    return x * scale\n").body[0]
    reformatted = ast.parse("def f(x,   scale=2):   # a comment\n    '''Doc.'''\n\n    return (x * scale)\n").body[0]
    changed = ast.parse("def f(x, scale=3):\n    '''Doc.'''\n    return x * scale\n").body[0]
    assert difference(reformatted, library) == ""
    assert "scale=3" in difference(changed, library)
