"""Count lines of code in course_utils and in the notebooks, and find the longest functions.

A line of code is a line of a Python statement: blank lines, comments and docstrings do not count.
The same counting is used for modules and for the code cells of notebooks, so the two can be compared:

    python scripts/code_size.py            # a table per module and per notebook, and the five longest functions
    python scripts/code_size.py --json     # the same figures as JSON

tests/test_layout.py uses these functions to keep course_utils smaller than the notebooks it serves.
"""

from __future__ import annotations

import argparse
import ast
import io
import json
import tokenize
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _docstring_lines(tree: ast.AST) -> set[int]:
    lines: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str):
                lines.update(range(first.lineno, first.end_lineno + 1))
    return lines


def code_lines(source: str) -> int:
    """Number of lines holding code in ``source``: not blank, not only a comment, not part of a docstring."""
    tree = ast.parse(source)
    skipped = _docstring_lines(tree)
    counted: set[int] = set()
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT, tokenize.ENDMARKER):
            continue
        counted.update(line for line in range(token.start[0], token.end[0] + 1) if line not in skipped)
    return len(counted)


def notebook_code(path: Path) -> str:
    """The code cells of a notebook joined into one source, IPython magics and shell lines left out."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    sources = ["".join(cell["source"]) for cell in cells if cell["cell_type"] == "code"]
    lines = [line for source in sources for line in source.splitlines() if not line.lstrip().startswith(("%", "!"))]
    return "\n".join(lines) + "\n"


def long_functions(source: str, limit: int = 50) -> list[tuple[str, int]]:
    """(qualified name, lines from ``def`` to the end) of every function longer than ``limit`` lines."""
    found = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    length = child.end_lineno - child.lineno + 1
                    if length > limit:
                        found.append((name, length))
                visit(child, name + ".")

    visit(ast.parse(source), "")
    return found


def measure(root: Path = ROOT) -> dict:
    """Code lines per module of course_utils and per notebook, with totals."""
    modules = {str(path.relative_to(root)): code_lines(path.read_text(encoding="utf-8"))
               for path in sorted((root / "course_utils").rglob("*.py"))}
    notebooks = {path.name: code_lines(notebook_code(path)) for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))}
    checks = sum(count for name, count in modules.items() if name.startswith("course_utils/checks/"))
    return {"modules": modules, "notebooks": notebooks,
            "course_utils_total": sum(modules.values()), "checks_total": checks,
            "plumbing_total": sum(modules.values()) - checks, "notebooks_total": sum(notebooks.values())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    figures = measure()
    if parser.parse_args().json:
        print(json.dumps(figures, indent=2))
        return
    for group in ("modules", "notebooks"):
        for name, count in figures[group].items():
            print(f"{count:6d}  {name}")
    print(f"{figures['course_utils_total']:6d}  course_utils in all: {figures['plumbing_total']} plumbing and models, "
          f"{figures['checks_total']} exercise checks\n{figures['notebooks_total']:6d}  notebooks in all")
    longest = [(length, f"{path.relative_to(ROOT)}:{name}") for path in sorted((ROOT / "course_utils").rglob("*.py"))
               for name, length in long_functions(path.read_text(encoding="utf-8"), limit=30)]
    print("functions over 30 lines:", ", ".join(f"{where} ({length})" for length, where in sorted(longest, reverse=True)) or "none")


if __name__ == "__main__":
    main()
