"""course_utils stays plumbing: smaller than the notebooks it serves, short functions, each constant defined once."""

from __future__ import annotations

import ast
import importlib.util
import re
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MODULES = sorted((ROOT / "course_utils").rglob("*.py"))

spec = importlib.util.spec_from_file_location("code_size", ROOT / "scripts" / "code_size.py")
code_size = importlib.util.module_from_spec(spec)
spec.loader.exec_module(code_size)


def test_course_utils_plumbing_has_fewer_code_lines_than_the_notebooks():
    """The lesson lives on the page: what course_utils runs for the notebooks is smaller than the notebooks.

    The exercise checks (course_utils/checks) are counted apart: they only grade the learner's code (each
    check holds its cases, its reference answer and the named mistakes it diagnoses) and no notebook runs
    them as part of the lesson (the next test). Both figures are printed by scripts/code_size.py.
    """
    figures = code_size.measure(ROOT)
    assert figures["plumbing_total"] < figures["notebooks_total"], (
        f"course_utils (without its checks) has {figures['plumbing_total']} lines of code, the notebooks "
        f"{figures['notebooks_total']}: the lesson belongs on the notebook page (see CONTRIBUTING.md, 'Layout')")


def test_the_checks_only_grade_nothing_else_runs_them():
    """No module outside course_utils/checks imports them, and no notebook reaches for a check's private reference."""
    for path in MODULES:
        if "checks" in path.relative_to(ROOT).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([alias.name for alias in node.names] if isinstance(node, ast.Import) else
                     [f"{node.module}.{alias.name}" for alias in node.names] if isinstance(node, ast.ImportFrom) else [])
            assert not any(name.startswith("course_utils.checks") for name in names), (
                f"{path.relative_to(ROOT)} imports the exercise checks: plumbing must not depend on them")
    for notebook in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        source = code_size.notebook_code(notebook)
        assert not re.search(r"checks\.\w+\._\w+", source), (
            f"{notebook.name} runs a check's private reference answer; write the lesson's code on the page")


def test_no_function_in_course_utils_is_longer_than_50_lines():
    long = {f"{path.relative_to(ROOT)}:{name}": length for path in MODULES
            for name, length in code_size.long_functions(path.read_text(encoding="utf-8"), limit=50)}
    assert not long, f"split these functions into smaller ones: {long}"


def test_every_constant_is_defined_in_one_module_only():
    places = defaultdict(list)
    for path in MODULES:
        for node in ast.parse(path.read_text(encoding="utf-8")).body:
            targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(node, ast.AnnAssign) else []
            for target in targets:
                if isinstance(target, ast.Name) and target.id.isupper():
                    places[target.id].append(str(path.relative_to(ROOT)))
    repeated = {name: where for name, where in places.items() if len(where) > 1}
    assert not repeated, f"define each constant once and import it elsewhere: {repeated}"


def test_code_lines_skip_comments_and_docstrings():
    source = '"""Module doc."""\n\n# a comment\ndef f(x):\n    """Doc\n    on two lines."""\n    return (x +\n            1)  # trailing\n'
    assert code_size.code_lines(source) == 3        # def, and the two lines of the return statement
    assert code_size.long_functions("def g():\n" + "    pass\n" * 60, limit=50) == [("g", 61)]
