"""The recovery switches of notebooks 04 and 05: switched on, the notebook loads the course's model and runs on.

nbval runs the committed notebooks with the switches off (the default: they train). Here a copy with the switch
on runs in a fresh kernel up to the cell that compares the loaded model with another one: no cell may fail, the
loaded model must score the committed validation accuracy, and the cell that needs the training says so.
"""

from __future__ import annotations

import re
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parents[1]
# notebook, switch, what the switched cell prints, the accuracy cell, its pattern, the last cell to run
SWITCHES = [
    ("04_cnn_mnist.ipynb", "LOAD_TRAINED_CNN", "loaded the course's trained CNN", "cnn_val_accuracy = ",
     r"CNN validation accuracy: ([0-9.]+%)", 'for name, model, accuracy, history in [("MLP"'),
    ("05_rnn_mnist.ipynb", "LOAD_TRAINED_LSTM", "loaded the course's trained LSTM", "lstm_val_accuracy = ",
     r"\nLSTM +[0-9,]+ +([0-9.]+%)", "lstm_val_accuracy = "),
]


def index_of(cells, marker: str) -> int:
    return next(index for index, cell in enumerate(cells) if cell.cell_type == "code" and marker in cell.source)


def text_of(cell) -> str:
    return "".join(output.get("text", "") for output in cell.get("outputs", []))


@pytest.mark.parametrize("name, switch, message, accuracy_cell, pattern, last_cell", SWITCHES, ids=[row[0][:2] for row in SWITCHES])
def test_with_the_switch_on_the_notebook_loads_the_model_and_runs_on(name, switch, message, accuracy_cell, pattern, last_cell):
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / name
    committed = nbformat.read(path, as_version=4)
    assignment = re.compile(rf"^{switch} = False$", re.M)
    switched = committed.cells[index_of(committed.cells, f"{switch} = False")]
    assert len(assignment.findall(switched.source)) == 1, f"{name} must train by default ({switch} = False)"
    printed = re.search(pattern, text_of(committed.cells[index_of(committed.cells, accuracy_cell)]))
    assert printed, f"{name}: the committed accuracy is not printed any more"

    notebook = nbformat.read(path, as_version=4)
    switch_index = index_of(notebook.cells, f"{switch} = False")
    notebook.cells[switch_index].source = assignment.sub(f"{switch} = True", notebook.cells[switch_index].source)
    notebook.cells = notebook.cells[:index_of(notebook.cells, last_cell) + 1]
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [f"{output.ename}: {output.evalue}" for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    assert message in text_of(notebook.cells[switch_index])
    assert "epoch-by-epoch figures" in "".join(text_of(cell) for cell in notebook.cells[switch_index:])
    accuracy = re.search(pattern, text_of(notebook.cells[index_of(notebook.cells, accuracy_cell)]))
    assert accuracy and accuracy.group(1) == printed.group(1), (accuracy, printed.group(1))
