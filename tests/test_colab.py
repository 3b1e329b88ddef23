"""The course on Colab (scripts/colab.py): one address in pyproject.toml, a set-up cell per notebook, README links.

Colab itself cannot be reached from here. What is tested instead: the committed notebooks and README agree with
the address; publishing an address writes the right links and cells and nothing else; the set-up cell does
nothing outside Colab; and, in a Python that has the course's dependencies but not the course, with a fake
``google.colab`` module imported as Colab imports the real one, the cell really clones this repository, installs
it with pip (no dependencies: torch stays the one that was there), and the course then finds its data and its
prose, in the kernel and in a new process; a fork typed in after a first run, and an address that cannot be cloned,
stop with a message that says what to do. The clone is of this repository's last commit, not of uncommitted edits.
"""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

from course_utils import data

ROOT = Path(__file__).resolve().parents[1]
spec = importlib.util.spec_from_file_location("colab", ROOT / "scripts" / "colab.py")
colab = importlib.util.module_from_spec(spec)
spec.loader.exec_module(colab)

NOTEBOOKS = colab.notebooks(ROOT)
ADDRESS = "https://github.com/example-org/deep-learning-course"


def _tagged(notebook) -> list:
    return [cell for cell in notebook.cells if colab.CELL_TAG in cell.get("metadata", {}).get("tags", [])]


def test_the_committed_notebooks_and_readme_agree_with_pyproject():
    check = subprocess.run([sys.executable, str(ROOT / "scripts" / "colab.py"), "--check"],
                           capture_output=True, text=True, timeout=120)
    assert check.returncode == 0, check.stderr


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.name)
def test_the_colab_cell_is_the_first_code_cell_and_prints_nothing(path):
    notebook = nbformat.read(path, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    assert _tagged(notebook) == [code[0]], f"{path.name}: the Colab cell must be the one first code cell"
    assert code[0].outputs == [], f"{path.name}: outside Colab the set-up cell prints nothing"
    assert "from course_utils" in code[1].source, f"{path.name}: the course's imports follow the Colab cell"


def test_without_an_address_the_readme_says_how_to_add_the_links():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    if colab.read_repository((ROOT / "pyproject.toml").read_text(encoding="utf-8")):
        pytest.skip("the course has an address; the links are checked by the publishing test")
    paragraph = readme.split(colab.README_START)[1].split(colab.README_END)[0]
    assert "colab.research.google.com" not in paragraph and "scripts/colab.py --repository" in paragraph


@pytest.fixture()
def course_copy(tmp_path):
    """What scripts/colab.py writes, copied: pyproject.toml, README.md and the notebooks."""
    (tmp_path / "notebooks").mkdir()
    for path in NOTEBOOKS:
        shutil.copy(path, tmp_path / "notebooks" / path.name)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, tmp_path / name)
    return tmp_path


def _run_script(root: Path, *arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "colab.py"), "--root", str(root), *arguments],
                          capture_output=True, text=True, timeout=120)


def test_publishing_writes_one_link_per_notebook_and_the_address_into_every_cell(course_copy):
    before = {path.name: nbformat.read(path, as_version=4) for path in NOTEBOOKS}
    text_before = data.course_text(course_copy)
    result = _run_script(course_copy, "--repository", ADDRESS + ".git/")
    assert result.returncode == 0 and "push to main" in result.stdout, result.stderr
    assert colab.read_repository((course_copy / "pyproject.toml").read_text(encoding="utf-8")) == ADDRESS
    paragraph = (course_copy / "README.md").read_text(encoding="utf-8").split(colab.README_START)[1]
    for path in NOTEBOOKS:
        link = f"https://colab.research.google.com/github/example-org/deep-learning-course/blob/main/notebooks/{path.name}"
        assert f"[{path.name[:2]}]({link})" in paragraph
        published = nbformat.read(course_copy / "notebooks" / path.name, as_version=4)
        assert f"COURSE_REPOSITORY = {ADDRESS!r}" in _tagged(published)[0].source
        # Only the address line changes: every other cell, output and execution count stays as committed.
        original = before[path.name]
        assert len(published.cells) == len(original.cells)
        for new, old in zip(published.cells, original.cells):
            if colab.CELL_TAG not in new.get("metadata", {}).get("tags", []):
                assert new == old
    assert data.course_text(course_copy) == text_before, "publishing must not change the prose notebook 05 trains on"
    again = _run_script(course_copy)
    assert again.returncode == 0 and "0 file(s) rewritten" in again.stdout
    assert _run_script(course_copy, "--check").returncode == 0


@pytest.mark.parametrize("address", ["https://gitlab.com/example-org/course", "http://github.com/example-org/course",
                                     "github.com/example-org/course", "https://github.com/example-org",
                                     "https://github.com/example-org/course/tree/main", "https://github.com/example-org/..",
                                     "https://github.com/-example/course", "https://github.com/exa--mple/course", ""])
def test_an_address_colab_cannot_open_is_refused_with_the_reason(course_copy, address):
    result = _run_script(course_copy, "--repository", address)
    assert result.returncode == 2 and "Colab opens notebooks from GitHub only" in result.stderr
    assert (course_copy / "pyproject.toml").read_bytes() == (ROOT / "pyproject.toml").read_bytes()


@pytest.mark.parametrize("pyproject", [
    '[project]\nname = "x"\nurls = {Homepage = "https://example.org"}\n',      # an inline table: a second one breaks
    '[project]\nname = "x"\n[project.urls]\nRepository = """https://github.com/a/b"""\n',
])
def test_a_pyproject_this_script_cannot_edit_safely_is_refused(pyproject):
    with pytest.raises(ValueError, match="by hand"):
        colab.write_repository(pyproject, ADDRESS)


def test_write_repository_keeps_comments_and_other_quotes():
    commented = "[project]\nname = 'x'\n\n[project.urls]  # links\nRepository = 'https://github.com/a/b'  # public\n"
    assert colab.read_repository(commented) == "https://github.com/a/b"
    rewritten = colab.write_repository(commented, ADDRESS)
    assert colab.read_repository(rewritten) == ADDRESS and rewritten.count("Repository") == 1


def test_write_repository_adds_or_replaces_the_one_line():
    added = colab.write_repository('[project]\nname = "x"\n\n[tool.other]\nkey = 1\n', ADDRESS)
    assert colab.read_repository(added) == ADDRESS and added.index("[project.urls]") < added.index("[tool.other]")
    replaced = colab.write_repository(added, "https://github.com/someone/fork")
    assert colab.read_repository(replaced) == "https://github.com/someone/fork" and replaced.count("Repository") == 1
    kept = colab.write_repository('[project]\nname = "x"\n[project.urls]\nHomepage = "https://example.org"\n', ADDRESS)
    assert 'Homepage = "https://example.org"' in kept and colab.read_repository(kept) == ADDRESS


def test_a_new_cell_goes_first_and_moves_the_execution_counts_up():
    notebook = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_markdown_cell("# Title"),
        nbformat.v4.new_code_cell("print(1)", execution_count=1,
                                  outputs=[nbformat.v4.new_output("execute_result", {"text/plain": "1"}, execution_count=1)]),
        nbformat.v4.new_code_cell("2", execution_count=2)])
    updated = colab.updated_notebook(notebook, ADDRESS)
    assert [cell.get("execution_count") for cell in updated.cells] == [None, 1, 2, 3]
    assert updated.cells[2].outputs[0].execution_count == 2 and _tagged(updated) == [updated.cells[1]]
    assert colab.updated_notebook(updated, "") is updated and len(updated.cells) == 4


def _cell(repository: str) -> str:
    return colab.cell_source(repository)


def test_outside_colab_the_cell_does_nothing(monkeypatch):
    monkeypatch.delitem(sys.modules, "google.colab", raising=False)
    monkeypatch.delenv("COURSE_DATA_DIR", raising=False)
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *arguments, **options: ran.append(arguments))
    path_before = list(sys.path)
    exec(compile(_cell(ADDRESS), "colab-cell", "exec"), {})
    assert ran == [] and sys.path == path_before and "COURSE_DATA_DIR" not in os.environ


FAKE_COLAB_RUN = """
import json, os, subprocess, sys
import google.colab  # the fake: Colab's kernels have imported the real one before the first cell runs
cell, cell_for_a_fork, cell_for_a_wrong_address = (open(path, encoding="utf-8").read() for path in sys.argv[1:4])
result = {}


def error_of(source):
    try:
        exec(compile(source, "colab-cell", "exec"), {})
    except RuntimeError as error:
        return str(error)
    return None


try:
    exec(compile(cell, "colab-cell", "exec"), {})
    exec(compile(cell, "colab-cell", "exec"), {})  # run twice, as a learner re-running the cell would
    import torch
    from course_utils import data
    result["package"] = data.__file__
    result["data_dir"] = str(data.data_dir())
    result["data_dir_variable"] = os.environ.get("COURSE_DATA_DIR")
    result["digits"] = len(data.load_mnist().train_labels)
    result["course_text"] = len(data.course_text())
    result["torch"] = torch.__file__
    child = subprocess.run([sys.executable, "-c", "import course_utils, sys; print(course_utils.__file__)"],
                           capture_output=True, text=True)
    result["child"] = child.stdout.strip() or child.stderr[-500:]
    result["fork_error"] = error_of(cell_for_a_fork)
    result["wrong_address_error"] = error_of(cell_for_a_wrong_address)
except BaseException as error:
    result["error"] = f"{type(error).__name__}: {error}"
print("RESULT " + json.dumps(result))
"""


@pytest.fixture()
def colab_like_python(tmp_path):
    """A fresh venv that sees this environment's packages (torch, numpy, pip) but not the course, and a fake Colab."""
    venv = tmp_path / "colab-venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    python = venv / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own_site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                              capture_output=True, text=True, check=True).stdout.strip()
    fake = tmp_path / "fake"
    (fake / "google" / "colab").mkdir(parents=True)
    (fake / "google" / "__init__.py").write_text("")
    (fake / "google" / "colab" / "__init__.py").write_text('"""A stand-in for Colab\'s module, for tests."""\n')
    # A path in a .pth file joins sys.path without its own .pth files running: the editable install of the course
    # in this environment (a finder started from a .pth file) stays invisible to the new venv.
    borrowed = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"], str(fake)])
    (Path(own_site) / "borrowed.pth").write_text("".join(f"{path}\n" for path in borrowed))
    return python


def test_on_colab_the_cell_clones_installs_and_the_course_finds_its_data(colab_like_python, tmp_path):
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs this course as a git repository and git")
    content = tmp_path / "content"  # Colab's working folder
    content.mkdir()
    without_course = subprocess.run([str(colab_like_python), "-c", "import course_utils"], cwd=content,
                                    capture_output=True, text=True, timeout=120)
    assert without_course.returncode != 0, "the simulated Colab must not see this environment's course_utils"
    address = ROOT.as_uri()
    cells = {"cell.py": address,
             "fork.py": address + "/",   # the same folder name, another address: a fork typed in after a first run
             "wrong.py": (tmp_path / "no-such-course").as_uri()}
    for file_name, repository in cells.items():
        (tmp_path / file_name).write_text(_cell(repository), encoding="utf-8")
    script = tmp_path / "run.py"
    script.write_text(FAKE_COLAB_RUN, encoding="utf-8")
    env = {key: value for key, value in os.environ.items() if key not in ("COURSE_DATA_DIR", "PYTHONPATH")}
    env["PIP_NO_BUILD_ISOLATION"] = "0"  # pip's spelling of --no-build-isolation: no index needed for setuptools
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    # Git refuses to clone a repository another user owns (CI containers) unless it is named safe.
    env.update(GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0="safe.directory", GIT_CONFIG_VALUE_0="*")
    run = subprocess.run([str(colab_like_python), str(script), *(str(tmp_path / name) for name in cells)], cwd=content, env=env,
                         capture_output=True, text=True, timeout=600)
    assert run.returncode == 0 and "RESULT " in run.stdout, run.stderr[-3000:]
    result = json.loads(run.stdout.split("RESULT ", 1)[1])
    assert "error" not in result, result
    clone = content / Path(address.rstrip("/")).name.removesuffix(".git")   # as the cell names it
    assert (clone / ".git").is_dir() and Path(result["package"]).is_relative_to(clone)
    assert Path(result["data_dir"]) == clone / "data" and result["data_dir_variable"] == str(clone / "data")
    assert result["digits"] == 8000 and result["course_text"] > 100_000
    assert Path(result["child"]).is_relative_to(clone), f"a new process does not find the installed course: {result}"
    assert Path(result["torch"]).is_relative_to(sysconfig.get_paths()["purelib"]), "torch must stay Colab's own"
    assert run.stdout.count("the course is in") == 2
    assert "from another address" in (result["fork_error"] or ""), result
    assert "could not clone" in (result["wrong_address_error"] or "") and "public" in result["wrong_address_error"], result


def test_on_colab_without_an_address_the_error_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "google.colab", type(sys)("google.colab"))
    ran = []
    monkeypatch.setattr(subprocess, "run", lambda *arguments, **options: ran.append(arguments))
    with pytest.raises(RuntimeError, match="COURSE_REPOSITORY"):
        exec(compile(_cell(""), "colab-cell", "exec"), {})
    assert ran == []
