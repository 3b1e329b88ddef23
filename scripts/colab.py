"""The course on Google Colab: one set-up cell per notebook and the README's "Open in Colab" links.

    python scripts/colab.py                                         rewrite them from pyproject.toml's address
    python scripts/colab.py --repository https://github.com/OWNER/REPO   set the address, then rewrite them
    python scripts/colab.py --check                                 exit 1 if a notebook or the README disagrees

The course's public address lives in one place, ``[project.urls] Repository`` in pyproject.toml. From it this
script writes

* the first code cell of every notebook (tagged ``colab``): on Colab only (``google.colab`` imported), it clones
  the course beside the notebook, installs it with ``pip install --no-deps -e`` (Colab's own PyTorch, NumPy and
  scikit-learn are left as they are) and sets ``COURSE_DATA_DIR``; anywhere else it does nothing;
* the README's Colab paragraph, between ``<!-- colab:start -->`` and ``<!-- colab:end -->``: one link per
  notebook when the address is on GitHub (Colab opens notebooks from GitHub only), else how to add them.

A cell that is new to a notebook goes before its first code cell, and the execution counts after it move up by
one, as if the notebook had been run with it (outside Colab it prints nothing). Changing the address changes
only the cell's ``COURSE_REPOSITORY`` line and the README's paragraph, so the committed outputs stay as they are
(``data.course_text()``, which notebook 05 trains on, leaves that generated paragraph out). Then commit the files
and push them to ``main``: the links open that branch.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import nbformat

ROOT = Path(__file__).resolve().parents[1]
CELL_TAG = "colab"
CELL_ID = "colab-setup"
README_START = "<!-- colab:start -->"
README_END = "<!-- colab:end -->"
BRANCH = "main"
# GitHub's rules: an owner is letters, digits and single hyphens inside; a repository name is letters, digits, '.',
# '_' and '-', but not '.' or '..'.
GITHUB = re.compile(r"^https://github\.com/(?P<owner>[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38})/"
                    r"(?P<name>(?!\.\.?(?:\.git)?/?$)[A-Za-z0-9._-]+?)(?:\.git)?/?$")
URLS_TABLE = re.compile(r"^\[project\.urls\][ \t]*(?:#.*)?$", re.M)
REPOSITORY_LINE = re.compile(r"""^Repository[ \t]*=[ \t]*(?P<quote>["'])(?P<url>[^"'\n]*)(?P=quote)[ \t]*(?:#.*)?$""", re.M)

CELL_TEMPLATE = '''\
# Only on Google Colab: fetch the course and install it beside Colab's own PyTorch. Anywhere else this cell does nothing.
import sys

COURSE_REPOSITORY = {repository!r}  # the course's public git address (scripts/colab.py writes it); a public fork works too

if "google.colab" in sys.modules:
    import os
    import subprocess
    from pathlib import Path

    def run_or_explain(command, failure):
        finished = subprocess.run(command, capture_output=True, text=True, env={{**os.environ, "GIT_TERMINAL_PROMPT": "0"}})
        if finished.returncode != 0:
            raise RuntimeError(f"{{failure}}: {{finished.stderr.strip()[-800:]}}")
        return finished.stdout.strip()

    if not COURSE_REPOSITORY:
        raise RuntimeError("This copy of the course has no public address, so Colab cannot fetch it: put the course's "
                           "git address (ask your instructor) in COURSE_REPOSITORY above and run this cell again.")
    course_folder = Path.cwd() / Path(COURSE_REPOSITORY.rstrip("/")).name.removesuffix(".git")
    if not (course_folder / "course_utils").is_dir():
        run_or_explain(["git", "clone", "--depth", "1", "--quiet", COURSE_REPOSITORY, str(course_folder)],
                       f"could not clone {{COURSE_REPOSITORY}} (is the address right, and public?)")
    elif run_or_explain(["git", "-C", str(course_folder), "remote", "get-url", "origin"],
                        f"{{course_folder}} is not a clone of the course: delete it") != COURSE_REPOSITORY:
        raise RuntimeError(f"{{course_folder}} holds a copy of the course from another address: delete it (!rm -rf "
                           f"{{course_folder}}), restart the session (Runtime ▸ Restart session) and run this cell again.")
    run_or_explain([sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "-e", str(course_folder)],
                   "could not install the course")
    if str(course_folder) not in sys.path:
        sys.path.insert(0, str(course_folder))  # this kernel started before the install; new processes find it anyway
    os.environ["COURSE_DATA_DIR"] = str(course_folder / "data")
    print("the course is in", course_folder)'''


class AddressError(ValueError):
    """The course's address cannot give Colab links."""


def notebooks(root: Path = ROOT) -> list[Path]:
    return sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))


def _toml_loads(text: str) -> dict:
    try:
        import tomllib                      # Python 3.11+
    except ModuleNotFoundError:             # Python 3.10: pip carries the same parser
        from pip._vendor import tomli as tomllib
    return tomllib.loads(text)


def read_repository(pyproject_text: str) -> str:
    """The address in ``[project.urls] Repository``, or "" when the course has none."""
    return _toml_loads(pyproject_text).get("project", {}).get("urls", {}).get("Repository", "")


def check_address(repository: str) -> re.Match:
    """The address's owner and name; AddressError unless it is ``https://github.com/OWNER/REPO``."""
    match = GITHUB.match(repository.strip())
    if not match:
        raise AddressError(f"{repository!r} is not a GitHub address like https://github.com/OWNER/REPO: Colab opens "
                           "notebooks from GitHub only (a fork elsewhere can still be typed into a notebook's "
                           "COURSE_REPOSITORY line by hand)")
    return match


def write_repository(pyproject_text: str, repository: str) -> str:
    """pyproject.toml's text with ``[project.urls] Repository`` set to ``repository``; ValueError if it cannot be done
    by adding or replacing that one line (then the result is parsed and checked, so the file never breaks)."""
    written = _write_repository_line(pyproject_text, repository)
    try:
        parsed = _toml_loads(written)
    except Exception as error:
        raise ValueError(f"setting Repository would break pyproject.toml ({error}): set it by hand") from error
    if parsed.get("project", {}).get("urls", {}).get("Repository") != repository:
        raise ValueError("pyproject.toml's [project.urls] is written in a form this script does not edit: set "
                         f"Repository = \"{repository}\" there by hand")
    return written


def _write_repository_line(pyproject_text: str, repository: str) -> str:
    line = f'Repository = "{repository}"'
    table = URLS_TABLE.search(pyproject_text)
    if not table:
        project = re.search(r"^\[project\][ \t]*$", pyproject_text, re.M)
        if not project:
            raise ValueError("pyproject.toml has no [project] table")
        following = re.search(r"^\[", pyproject_text[project.end():], re.M)
        cut = project.end() + following.start() if following else len(pyproject_text)
        return pyproject_text[:cut].rstrip("\n") + f"\n\n[project.urls]\n{line}\n\n" + pyproject_text[cut:].lstrip("\n")
    start = table.end()
    following = re.search(r"^\[", pyproject_text[start:], re.M)
    end = start + following.start() if following else len(pyproject_text)
    section = pyproject_text[start:end]
    if REPOSITORY_LINE.search(section):
        section = REPOSITORY_LINE.sub(lambda _: line, section, count=1)
    else:
        section = "\n" + line + section
    return pyproject_text[:start] + section + pyproject_text[end:]


def cell_source(repository: str) -> str:
    """The Colab set-up cell's code for the course at ``repository`` ("" when it has no address)."""
    return CELL_TEMPLATE.format(repository=repository)


def colab_link(repository: str, notebook_name: str) -> str:
    match = check_address(repository)
    return (f"https://colab.research.google.com/github/{match['owner']}/{match['name']}/blob/{BRANCH}/"
            f"notebooks/{notebook_name}")


def readme_paragraph(repository: str, notebook_names: list[str]) -> str:
    """The README's Colab paragraph (without the markers)."""
    setup = ("Each notebook's first code cell sets the course up on Colab, and only there: it clones the course, "
             "installs it with `pip install --no-deps` (Colab's own PyTorch stays as it is) and points "
             "`COURSE_DATA_DIR` at the clone's `data/`; anywhere else it does nothing.")
    if repository and GITHUB.match(repository):
        links = " · ".join(f"[{name[:2]}]({colab_link(repository, name)})" for name in notebook_names)
        return (f"**Google Colab.** Open a notebook in Colab: {links}. {setup} Colab opens the notebooks as they are "
                f"on the `{BRANCH}` branch, with their outputs and their solution cells in view (Edit ▸ Clear all "
                "outputs hides the outputs; JupyterLab's folding of the solutions does not carry over), and it "
                "forgets your edits when the runtime ends unless you save a copy to Drive (File ▸ Save a copy in "
                "Drive).")
    if repository:
        return (f"**Google Colab.** {setup} The course's address, {repository}, is not on GitHub, so Colab cannot "
                "open its notebooks by a link: upload a notebook to Colab (File ▸ Upload notebook) and run it; its "
                "first cell clones the course from that address.")
    return (f"**Google Colab.** {setup} This copy of the course has no public address yet, so there are no "
            "Open-in-Colab links: once it is on GitHub, `python scripts/colab.py --repository "
            "https://github.com/OWNER/REPO` writes the address into that cell and the links here. Until then, upload "
            "a notebook to Colab and type a public git address of your copy (a public fork, say) into the cell's "
            "`COURSE_REPOSITORY` line.")


def _shift_counts(cells: list, by: int) -> None:
    for cell in cells:
        if cell.cell_type != "code" or cell.get("execution_count") is None:
            continue
        cell.execution_count += by
        for output in cell.get("outputs", []):
            if output.get("execution_count") is not None:
                output.execution_count += by


def updated_notebook(notebook: nbformat.NotebookNode, repository: str) -> nbformat.NotebookNode:
    """The notebook with its Colab cell holding ``repository`` (added before the first code cell when missing)."""
    source = cell_source(repository)
    tagged = [cell for cell in notebook.cells if CELL_TAG in cell.get("metadata", {}).get("tags", [])]
    if len(tagged) > 1:
        raise ValueError(f"{len(tagged)} cells are tagged {CELL_TAG!r}: keep one")
    if tagged:
        tagged[0].source = source
        return notebook
    code_positions = [index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code"]
    position = code_positions[0] if code_positions else len(notebook.cells)
    executed = any(cell.get("execution_count") for cell in notebook.cells if cell.cell_type == "code")
    cell = nbformat.v4.new_code_cell(source, id=CELL_ID, metadata={"tags": [CELL_TAG]})
    if executed:
        _shift_counts(notebook.cells, 1)
        cell.execution_count = 1
    notebook.cells.insert(position, cell)
    return notebook


def updated_readme(readme_text: str, repository: str, notebook_names: list[str]) -> str:
    if readme_text.count(README_START) != 1 or readme_text.count(README_END) != 1:
        raise ValueError(f"README.md needs one {README_START} and one {README_END} line around the Colab paragraph")
    before, rest = readme_text.split(README_START, 1)
    _, after = rest.split(README_END, 1)
    return f"{before}{README_START}\n{readme_paragraph(repository, notebook_names)}\n{README_END}{after}"


def _writes(notebook: nbformat.NotebookNode) -> str:
    return nbformat.writes(notebook) + "\n"


def planned_files(root: Path, repository: str) -> dict[Path, str]:
    """Every file this script writes, with the text it should hold for ``repository``."""
    paths = notebooks(root)
    planned = {}
    for path in paths:
        planned[path] = _writes(updated_notebook(nbformat.read(path, as_version=4), repository))
    readme = root / "README.md"
    planned[readme] = updated_readme(readme.read_text(encoding="utf-8"), repository, [path.name for path in paths])
    return planned


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repository", help="the course's public address, https://github.com/OWNER/REPO")
    parser.add_argument("--check", action="store_true", help="change nothing; exit 1 if a file disagrees")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)
    arguments = parser.parse_args(argv)
    pyproject = arguments.root / "pyproject.toml"
    pyproject_text = pyproject.read_text(encoding="utf-8")
    new_pyproject_text = pyproject_text
    if arguments.repository is not None:
        if arguments.check:
            parser.error("--check reads the address from pyproject.toml: leave out --repository")
        try:
            match = check_address(arguments.repository)
            new_pyproject_text = write_repository(pyproject_text, f"https://github.com/{match['owner']}/{match['name']}")
        except ValueError as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    repository = read_repository(new_pyproject_text)
    if repository and not GITHUB.match(repository):
        print(f"warning: pyproject.toml's Repository {repository!r} is not on GitHub: no Colab links", file=sys.stderr)
    planned = planned_files(arguments.root, repository)   # everything is computed before anything is written
    if new_pyproject_text != pyproject_text:
        planned[pyproject] = new_pyproject_text
    stale = [path for path, text in planned.items() if path.read_text(encoding="utf-8") != text]
    where = repository or "no address"
    if arguments.check:
        for path in stale:
            print(f"{path.relative_to(arguments.root)} disagrees with pyproject.toml's address ({where}): "
                  "run python scripts/colab.py", file=sys.stderr)
        return 1 if stale else 0
    for path in stale:
        path.write_text(planned[path], encoding="utf-8")
    print(f"Colab cell and links for {where}: {len(stale)} file(s) rewritten")
    if stale:
        print(f"next: commit them and push to {BRANCH} (Colab's links open that branch); notebook 05's outputs are "
              "unaffected (data.course_text() leaves the generated Colab paragraph out)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
