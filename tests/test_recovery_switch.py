"""Notebook 04's recovery switch: with LOAD_TRAINED_CNN = True the notebook loads the course's CNN and runs on.

nbval runs the committed notebook with the switch off (the default: it trains). Here a copy with the switch on runs
in a fresh kernel up to the end of section 7 (the cells that use the trained CNN's history and accuracy): no cell may
fail, the loaded CNN must score the committed validation accuracy, and the cells that need the training say so.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOK = ROOT / "notebooks" / "04_cnn_mnist.ipynb"
SWITCH = "LOAD_TRAINED_CNN = False"


def index_of(cells, marker: str) -> int:
    return next(index for index, cell in enumerate(cells) if cell.cell_type == "code" and marker in cell.source)


def text_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.outputs)


@pytest.fixture(scope="module")
def committed():
    return nbformat.read(NOTEBOOK, as_version=4)


def test_the_committed_notebook_trains(committed):
    cell = committed.cells[index_of(committed.cells, SWITCH)]
    assert cell.source.count(SWITCH) == 1 and "train.fit(" in cell.source


def test_with_the_switch_on_the_notebook_loads_the_cnn_and_runs_through_section_7(committed, tmp_path):
    from nbclient import NotebookClient

    printed = re.search(r"CNN validation accuracy: ([0-9.]+%)", text_of(committed.cells[index_of(committed.cells, "cnn_val_accuracy = ")]))
    notebook = nbformat.read(NOTEBOOK, as_version=4)
    switch = index_of(notebook.cells, SWITCH)
    notebook.cells[switch].source = notebook.cells[switch].source.replace(SWITCH, "LOAD_TRAINED_CNN = True")
    last = index_of(notebook.cells, 'for name, model, accuracy, history in [("MLP"')
    notebook.cells = notebook.cells[:last + 1]
    NotebookClient(notebook, timeout=600, kernel_name="python3",
                   resources={"metadata": {"path": str(NOTEBOOK.parent)}}).execute()
    errors = [f"{output.ename}: {output.evalue}" for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    assert "loaded the course's trained CNN" in text_of(notebook.cells[switch])
    assert "no epoch-by-epoch figures" in text_of(notebook.cells[index_of(notebook.cells, "cnn_history.train_accuracy")])
    accuracy = text_of(notebook.cells[index_of(notebook.cells, "cnn_val_accuracy = ")])
    assert printed and f"CNN validation accuracy: {printed.group(1)}" in accuracy, accuracy
    table = text_of(notebook.cells[last])
    assert re.search(r"CNN\s+" + re.escape(printed.group(1)), table), table
