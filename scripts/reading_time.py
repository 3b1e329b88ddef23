"""Minutes a learner needs per notebook, from what is on its pages (SCHEDULE.md's figures come from here).

    python scripts/reading_time.py

For each notebook: words of prose (markdown cells), lines of code a learner reads (code cells other than the
hidden solutions and the Colab set-up cell, which does nothing elsewhere), exercises (cells marked ``# YOUR CODE HERE``), and from them

* reading and running: words at 150 a minute (a careful pace for technical text with formulas) plus lines of
  code at 20 a minute (reading a line, running its cell, looking at what it prints), rounded to 5 minutes;
* exercises: 7 minutes each (the median a learner needs to read the task, write a few lines, run the check and
  fix one mistake; the hard ones take longer, the easy ones less), rounded to 5 minutes.

The rates are stated assumptions, not measurements of learners; the counts are measured from the notebooks.
The compute time is what `make bench-notebooks` measured (README's course map).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORDS_PER_MINUTE = 150
CODE_LINES_PER_MINUTE = 20
MINUTES_PER_EXERCISE = 7


def round5(minutes: float) -> int:
    return max(5, int(5 * round(minutes / 5)))


def notebook_figures(path: Path) -> dict:
    """Words, code lines and exercises of one notebook, and the minutes they take."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    words = lines = exercises = 0
    for cell in cells:
        source = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            words += len(re.findall(r"\w+", source))
        elif not {"solution", "colab"} & set(cell.get("metadata", {}).get("tags", [])):
            lines += sum(1 for line in source.splitlines() if line.strip())
            exercises += "# YOUR CODE HERE" in source
    reading = round5(words / WORDS_PER_MINUTE + lines / CODE_LINES_PER_MINUTE)
    return {"words": words, "code_lines": lines, "exercises": exercises, "reading_minutes": reading,
            "exercise_minutes": round5(MINUTES_PER_EXERCISE * exercises) if exercises else 0}


def main() -> None:
    print(f"{'notebook':<34}{'words':>7}{'code lines':>12}{'exercises':>11}{'read+run min':>14}{'exercise min':>14}{'total':>7}")
    total = 0
    for path in sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        figures = notebook_figures(path)
        minutes = figures["reading_minutes"] + figures["exercise_minutes"]
        total += minutes
        print(f"{path.stem:<34}{figures['words']:>7,}{figures['code_lines']:>12}{figures['exercises']:>11}"
              f"{figures['reading_minutes']:>14}{figures['exercise_minutes']:>14}{minutes:>7}")
    print(f"{'all notebooks':<92}{total:>7}")


if __name__ == "__main__":
    main()
