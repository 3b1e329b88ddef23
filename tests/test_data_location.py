"""The data-location rule (data.data_dir): the course finds its data and prose whether installed editable or not.

`make lab` installs the course editable, so data/ sits beside the package. Installed non-editable (`pip install .`,
not `-e`), the package lives in site-packages without data/: then ``COURSE_DATA_DIR`` or the current
folder (inside a clone) must lead to it, and otherwise the error must name ``COURSE_DATA_DIR``. Here the course is
really installed non-editable, into a temporary folder, and run by a Python that cannot see the editable install.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from course_utils import data

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, sys
from course_utils import data, serve
result = {"package": data.__file__, "page": (serve.WEB_FOLDER / "draw.html").is_file()}
try:
    result["digits"] = len(data.load_mnist().train_labels)
    result["mails"] = len(data.load_spam().train)
    result["course_text"] = len(data.course_text())
except Exception as error:
    result["error"] = f"{type(error).__name__}: {error}"
print("RESULT " + json.dumps(result))
"""


@pytest.fixture(scope="module")
def installed(tmp_path_factory):
    """The course installed non-editable (a real wheel build) into a folder of its own."""
    target = tmp_path_factory.mktemp("site")
    build = subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "--no-build-isolation", "--quiet",
                            "--disable-pip-version-check", "--target", str(target), str(ROOT)],
                           capture_output=True, text=True, timeout=600)
    assert build.returncode == 0, build.stderr[-3000:]
    assert (target / "course_utils" / "data.py").is_file() and not (target / "data").exists()
    return target


def probe(installed: Path, cwd: Path, **environment) -> dict:
    """Run PROBE with the non-editable install first on the path and no site processing (the editable finder off)."""
    site_packages = sysconfig.get_paths()["purelib"]
    env = {key: value for key, value in os.environ.items() if key != data.DATA_DIR_VARIABLE}
    env.update(PYTHONPATH=os.pathsep.join([str(installed), site_packages]), **environment)
    run = subprocess.run([sys.executable, "-S", "-c", PROBE], cwd=cwd, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout.split("RESULT ", 1)[1])


def test_the_installed_package_is_not_the_clone(installed, tmp_path):
    result = probe(installed, tmp_path, **{data.DATA_DIR_VARIABLE: str(ROOT / "data")})
    assert Path(result["package"]).is_relative_to(installed)
    assert result["page"], "the drawing page's files are missing from the installed package (package-data)"


def test_course_data_dir_finds_the_data_and_the_course_text(installed, tmp_path):
    result = probe(installed, tmp_path, **{data.DATA_DIR_VARIABLE: str(ROOT / "data")})
    assert "error" not in result, result
    assert result["digits"] == 8000 and result["mails"] == 4422 and result["course_text"] > 100_000


def test_running_inside_the_clone_finds_the_data_without_the_variable(installed):
    result = probe(installed, ROOT / "notebooks")
    assert "error" not in result, result
    assert result["digits"] == 8000 and result["course_text"] > 100_000


def test_elsewhere_without_the_variable_the_error_names_it(installed, tmp_path):
    result = probe(installed, tmp_path)
    assert result["error"].startswith("DataError") and data.DATA_DIR_VARIABLE in result["error"], result


def test_a_data_copy_without_the_course_says_where_the_prose_is_missing(tmp_path, monkeypatch):
    copy = tmp_path / "data"
    copy.mkdir()
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(copy))
    assert data.course_root() == tmp_path
    with pytest.raises(FileNotFoundError, match=data.DATA_DIR_VARIABLE):
        data.course_text()
