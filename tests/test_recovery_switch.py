"""The recovery switches of notebooks 04, 05, 06 and 07: switched on, the notebook loads what the course recorded and runs on.

nbval runs the committed notebooks with the switches off (the default: they train). Here a copy with the switch
on runs in a fresh kernel up to the cell that compares the loaded model with another one: no cell may fail, the
loaded model must score the committed validation accuracy, and the cell that needs the training says so.
Notebook 06's switch reads the ablation's recorded results (data/recorded/ablation_06.json, checked against the
committed table) and notebook 07's cross-validates only the settings its grid searches chose: both must then print
the committed table (the timing column aside).
"""

from __future__ import annotations

import json
import re
import statistics
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


def _execute_switched(name: str, switch: str, last_cell: str, extra_cells: tuple[str, ...] = ()):
    """Notebook ``name`` with ``switch = True``, run in a fresh kernel through the cell holding ``last_cell``."""
    from nbclient import NotebookClient

    path = ROOT / "notebooks" / name
    notebook = nbformat.read(path, as_version=4)
    assignment = re.compile(rf"^{switch} = False$", re.M)
    switch_index = index_of(notebook.cells, f"{switch} = False")
    assert len(assignment.findall(notebook.cells[switch_index].source)) == 1, f"{name} must run by default ({switch} = False)"
    notebook.cells[switch_index].source = assignment.sub(f"{switch} = True", notebook.cells[switch_index].source)
    notebook.cells = notebook.cells[:index_of(notebook.cells, last_cell) + 1]
    notebook.cells += [nbformat.v4.new_code_cell(source) for source in extra_cells]
    NotebookClient(notebook, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    errors = [f"{output.ename}: {output.evalue}" for cell in notebook.cells if cell.cell_type == "code"
              for output in cell.outputs if output.output_type == "error"]
    assert not errors, errors
    return nbformat.read(path, as_version=4), notebook, switch_index


@pytest.mark.parametrize("name, switch, message, accuracy_cell, pattern, last_cell", SWITCHES, ids=[row[0][:2] for row in SWITCHES])
def test_with_the_switch_on_the_notebook_loads_the_model_and_runs_on(name, switch, message, accuracy_cell, pattern, last_cell):
    committed, executed, switch_index = _execute_switched(name, switch, last_cell)
    printed = re.search(pattern, text_of(committed.cells[index_of(committed.cells, accuracy_cell)]))
    assert printed, f"{name}: the committed accuracy is not printed any more"
    assert message in text_of(executed.cells[switch_index])
    assert "epoch-by-epoch figures" in "".join(text_of(cell) for cell in executed.cells[switch_index:])
    accuracy = re.search(pattern, text_of(executed.cells[index_of(executed.cells, accuracy_cell)]))
    assert accuracy and accuracy.group(1) == printed.group(1), (accuracy, printed.group(1))


def _table_without_last_column(text: str, header: str) -> list[str]:
    """The lines of the table that starts at ``header``, each without its last (timing) column."""
    lines = text[text.index(header):].split("\n\n")[0].splitlines()
    return [line.rsplit(None, 2 if line.rstrip().endswith(" s") else 1)[0] for line in lines]


ABLATION_HEADER = "model                              val mean"


def test_the_recorded_ablation_agrees_with_the_committed_table():
    record = json.loads((ROOT / "data" / "recorded" / "ablation_06.json").read_text(encoding="utf-8"))
    committed = nbformat.read(ROOT / "notebooks" / "06_notebook_to_production.ipynb", as_version=4)
    table = text_of(committed.cells[index_of(committed.cells, "LOAD_ABLATION_RESULTS = False")])
    rows = table[table.index(ABLATION_HEADER):].splitlines()[1:len(record["rows"]) + 1]
    assert record["device"] == "cpu" and len(rows) == 8
    for row, line in zip(record["rows"], rows):
        assert len(row["val_accuracies"]) == len(row["test_accuracies"]) == 3
        val_mean, test_mean = statistics.fmean(row["val_accuracies"]), statistics.fmean(row["test_accuracies"])
        assert line.startswith(row["name"]), (row["name"], line)
        assert f"{val_mean:.2%}" in line and f"{test_mean:.2%}" in line and f"{row['parameters']:,}" in line, (
            f"data/recorded/ablation_06.json disagrees with notebook 06's table ({line!r}): "
            "run python scripts/record_ablation.py")


def test_notebook_06_with_the_ablation_switch_on_shows_the_same_table_and_picture():
    committed, executed, switch_index = _execute_switched(
        "06_notebook_to_production.ipynb", "LOAD_ABLATION_RESULTS", "names = [result.name for result in ablation_results]")
    loaded = text_of(executed.cells[switch_index])
    assert "loaded the course's recorded ablation results" in loaded and "loaded, not trained here" in loaded
    assert _table_without_last_column(loaded, ABLATION_HEADER) == _table_without_last_column(
        text_of(committed.cells[switch_index]), ABLATION_HEADER)
    assert any(output.get("data", {}).get("image/png") for output in executed.cells[-1].outputs), "the picture is missing"


TEXT_HEADER = "test set (1,473 messages)"
GRID_SPANS = 'for name in ("Naive Bayes", "logistic regression", "linear SVM")'


def test_notebook_07_with_the_search_switch_on_fits_the_same_models():
    committed = nbformat.read(ROOT / "notebooks" / "07_classical_ml_and_text.ipynb", as_version=4)
    spans_cell = committed.cells[index_of(committed.cells, GRID_SPANS)].source
    _, executed, switch_index = _execute_switched(
        "07_classical_ml_and_text.ipynb", "SKIP_GRID_SEARCH", "threshold_model = mail_pipeline",
        (spans_cell, 'print("candidates per search:", [len(search.cv_results_["params"]) for search in searches.values()])'))
    searched = text_of(executed.cells[switch_index])
    assert searched.count(" chosen earlier {") == 5 and " best {" not in searched, searched
    assert "candidates per search: [1, 1, 1, 1, 1]" in text_of(executed.cells[-1]), "the switch must skip the search"
    table_cell = index_of(committed.cells, "print_table(text_results")
    assert _table_without_last_column(text_of(executed.cells[table_cell]), TEXT_HEADER) == _table_without_last_column(
        text_of(committed.cells[table_cell]), TEXT_HEADER)
    assert "the grids were not searched" in text_of(executed.cells[-2]) and "from 0." not in text_of(executed.cells[-2])
