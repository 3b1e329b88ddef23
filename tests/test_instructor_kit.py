"""The instructor's kit agrees with the notebooks: SCHEDULE.md's minutes, INSTRUCTORS.md's quotes, the checkpoints.

* SCHEDULE.md's table of minutes per notebook is what scripts/reading_time.py measures, and each notebook's
  **Time:** line states the same minutes;
* every block of both tracks fits its time slot, and the one-day track's totals add up;
* INSTRUCTORS.md has the five parts for every notebook, and every check message it quotes (a text in backticks
  ending in "…") is the start of a mistake diagnosis some check really prints;
* every notebook has one **Checkpoint:** line, and README.md links both documents.
"""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest

from course_utils import checks
from course_utils.checks.core import Mistake

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SCHEDULE = (ROOT / "SCHEDULE.md").read_text(encoding="utf-8")
INSTRUCTORS = (ROOT / "INSTRUCTORS.md").read_text(encoding="utf-8")
spec = importlib.util.spec_from_file_location("reading_time", ROOT / "scripts" / "reading_time.py")
reading_time = importlib.util.module_from_spec(spec)
spec.loader.exec_module(reading_time)
NUMBER_WORDS = {"one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8}


def minutes_table() -> dict[str, dict]:
    """SCHEDULE.md's first table: notebook number -> exercises, read and run, exercise and total minutes."""
    rows = {}
    for line in SCHEDULE.splitlines():
        cells = [cell.strip() for cell in line.strip().strip("|").split("|")]
        if len(cells) == 9 and re.fullmatch(r"\d\d", cells[0]):
            rows[cells[0]] = {"exercises": int(cells[4]), "reading_minutes": int(cells[5]),
                              "exercise_minutes": int(cells[6]), "total": int(cells[7])}
    return rows


def markdown_of(path: Path) -> str:
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return "\n\n".join("".join(cell["source"]) for cell in cells if cell["cell_type"] == "markdown")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_the_schedule_and_the_time_line_give_the_measured_minutes(path):
    row = minutes_table()[path.name[:2]]
    figures = reading_time.notebook_figures(path)
    measured = {key: figures[key] for key in ("exercises", "reading_minutes", "exercise_minutes")}
    assert {key: row[key] for key in measured} == measured, (
        f"SCHEDULE.md's row for {path.name[:2]} is {row}, scripts/reading_time.py measures {measured}: update the table")
    assert row["total"] == row["reading_minutes"] + row["exercise_minutes"]
    time_line = re.search(r"\*\*Time:\*\* about (\d+) minutes: (\d+) to read and run, (\d+) for the (\w+) exercises",
                          markdown_of(path))
    assert time_line, f"{path.name} has no **Time:** line in the form 'about N minutes: R to read and run, E for the K exercises'"
    total, reading, exercise, count = time_line.groups()
    assert (int(total), int(reading), int(exercise), NUMBER_WORDS[count]) == (
        row["total"], row["reading_minutes"], row["exercise_minutes"], row["exercises"]), f"{path.name}'s Time line"


def test_the_table_total_is_the_sum_of_its_rows():
    rows = minutes_table()
    assert len(rows) == len(NOTEBOOKS)
    total = sum(row["total"] for row in rows.values())
    assert f"**{total}**" in SCHEDULE and f"{total} minutes" in SCHEDULE


def track_rows(heading: str) -> list[tuple[int, list[int]]]:
    """(slot minutes, [teach, hands-on, break]) of every timed row of the track under ``heading``."""
    section = SCHEDULE.split(heading, 1)[1].split("\n#", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.match(r"\|\s*(\d\d):(\d\d)–(\d\d):(\d\d)\s*\|([^|]*)\|([^|]*)\|([^|]*)\|([^|]*)\|", line)
        if match:
            start, end = int(match[1]) * 60 + int(match[2]), int(match[3]) * 60 + int(match[4])
            minutes = [int(cell) if cell.strip().isdigit() else 0 for cell in (match[6], match[7], match[8])]
            rows.append((end - start, minutes))
    return rows


@pytest.mark.parametrize("heading", ["## One-day core track", "### Day 1", "### Day 2"])
def test_every_block_fits_its_time_slot(heading):
    rows = track_rows(heading)
    assert rows, heading
    for slot, minutes in rows:
        assert sum(minutes) <= slot, f"{heading}: a block of {slot} minutes holds {minutes}"


def test_the_one_day_track_adds_up_as_stated():
    rows = track_rows("## One-day core track")
    teach = sum(minutes[0] for _, minutes in rows)
    hands_on = sum(minutes[1] for _, minutes in rows)
    assert f"{teach + hands_on} minutes of teaching and exercises ({teach} teach, {hands_on} hands-on)" in SCHEDULE
    assert rows[0][0] + sum(slot for slot, _ in rows[1:]) == 7 * 60   # 10:00 to 17:00


def test_both_days_of_the_full_track_add_up_as_stated():
    planned = 0
    for heading in ("### Day 1", "### Day 2"):
        rows = track_rows(heading)
        work = sum(minutes[0] + minutes[1] for _, minutes in rows)
        planned += work
        assert re.search(rf"{re.escape(heading)} \([^)]*\): [^\n]* {work} minutes", SCHEDULE), (heading, work)
    assert f"planned as {planned}" in SCHEDULE


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_instructors_md_covers_the_notebook_with_five_parts(path):
    number = path.name[:2]
    match = re.search(rf"^## {number} · .*?(?=^## |\Z)", INSTRUCTORS, re.S | re.M)
    assert match, f"INSTRUCTORS.md has no section '## {number} · ...'"
    for part in ("**Live-code**", "**Where learners get stuck**", "**Questions learners ask**",
                 "**If running late, cut**", "**Checkpoint**"):
        assert part in match.group(0), f"INSTRUCTORS.md, notebook {number}: '{part}' is missing"


def all_diagnoses() -> list[str]:
    found = []
    for module in checks.TOPIC_MODULES:
        for value in vars(module).values():
            for item in value if isinstance(value, (tuple, list)) else [value]:
                if isinstance(item, Mistake):
                    found.append(item.diagnosis)
    return found


def test_every_quoted_check_message_is_one_a_check_prints():
    diagnoses = all_diagnoses()
    assert len(diagnoses) > 100
    quoted = [" ".join(text[:-1].split()) for text in re.findall(r"`([^`]{12,}…)`", INSTRUCTORS)]
    quoted = [text for text in quoted if not text.startswith(("❌", "raised", "Using the reference", "python -m"))]
    assert len(quoted) > 30
    missing = [text for text in quoted if not any(text in " ".join(diagnosis.split()) for diagnosis in diagnoses)]
    assert not missing, f"INSTRUCTORS.md quotes check messages no check prints: {missing}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_every_notebook_has_one_checkpoint_line(path):
    assert markdown_of(path).count("**Checkpoint:**") == 1, f"{path.name} needs exactly one **Checkpoint:** line"


def test_the_readme_links_the_schedule_and_the_instructor_notes():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(SCHEDULE.md)" in readme and "(INSTRUCTORS.md)" in readme
