"""Record notebook 06's ablation (24 short trainings) for its recovery switch ``LOAD_ABLATION_RESULTS``.

For maintainers, after a change to notebook 06's ablation (its rows, seeds, recipe or model)::

    python scripts/record_ablation.py          # about 80 s on an idle 2-core CPU

It runs the notebook's own cells in a fresh kernel on the CPU (``COURSE_DEVICE=cpu``), from the top through the
ablation cell with the switch off, and writes each row's ``AblationResult`` (validation and test accuracy per seed,
parameters, mean seconds per run) to ``data/recorded/ablation_06.json``. Nothing is computed outside the notebook,
so the record is what the page computes. ``tests/test_recovery_switch.py`` checks that the record agrees with the
committed notebook's printed table and that the notebook runs on with the switch on.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
from pathlib import Path

import nbformat
import torch
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "06_notebook_to_production.ipynb"
RECORD = ROOT / "data" / "recorded" / "ablation_06.json"
SWITCH = "LOAD_ABLATION_RESULTS = False"
DUMP = ("import dataclasses\nprint('RECORD ' + json.dumps({'threads': torch.get_num_threads(), "
        "'rows': [dataclasses.asdict(result) for result in ablation_results]}))")


def record(notebook_path: Path = NOTEBOOK, timeout: int = 900) -> dict:
    """Run the notebook through its ablation cell on the CPU and return the record to write."""
    notebook = nbformat.read(notebook_path, as_version=4)
    ablation = next(index for index, cell in enumerate(notebook.cells) if cell.cell_type == "code" and SWITCH in cell.source)
    notebook.cells = notebook.cells[:ablation + 1] + [nbformat.v4.new_code_cell(DUMP)]
    previous = os.environ.get("COURSE_DEVICE")
    os.environ["COURSE_DEVICE"] = "cpu"   # the kernel inherits it: the recorded runs are the CPU's
    try:
        NotebookClient(notebook, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(notebook_path.parent)}}).execute()
    finally:
        if previous is None:
            os.environ.pop("COURSE_DEVICE", None)
        else:
            os.environ["COURSE_DEVICE"] = previous
    printed = "".join(output.get("text", "") for output in notebook.cells[-1].outputs)
    recorded = json.loads(printed.split("RECORD ", 1)[1])
    return {"description": "Notebook 06's ablation, each row trained once per seed on the CPU by the notebook's own "
                           "cells (scripts/record_ablation.py); read by its recovery switch LOAD_ABLATION_RESULTS. "
                           "Accuracies are fractions on the 800 validation and 2,000 test digits; train_seconds is "
                           "the mean wall-clock time of one run.",
            "device": "cpu", "cpu_threads": recorded["threads"], "torch_version": torch.__version__,
            "python_version": platform.python_version(), "rows": recorded["rows"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=RECORD, help="where to write the record")
    arguments = parser.parse_args()
    result = record()
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    arguments.out.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    for row in result["rows"]:
        print(f"{row['name']:<34} validation {sum(row['val_accuracies']) / len(row['val_accuracies']):.2%}")
    print(f"wrote {arguments.out}")


if __name__ == "__main__":
    main()
