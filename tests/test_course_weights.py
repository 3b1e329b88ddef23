"""The saved weights of the course's MLP and CNN (data/weights/, written by scripts/train_course_models.py).

Notebook 05 loads them for its comparison table instead of retraining both models; these tests check that the
files are there, small, load safely into the course's models, and give the test accuracy recorded beside them.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch

from course_utils import data, models, train

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "data" / "weights"
MODEL_CLASSES = {"mlp": models.MLP, "cnn": models.CNN, "lstm": models.RowClassifier}
MAX_BYTES = 3_000_000


@pytest.fixture(scope="module")
def record():
    return json.loads((WEIGHTS_DIR / "models.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def test_data():
    splits = data.load_mnist()
    return data.to_tensors(splits.test_images, splits.test_labels, "cpu")


def _loaded(stem):
    state_dict = torch.load(WEIGHTS_DIR / f"{stem}.pt", weights_only=True, map_location="cpu")
    model = MODEL_CLASSES[stem]()
    model.load_state_dict({key: value.float() if value.is_floating_point() else value for key, value in state_dict.items()})
    return model.eval()


def test_the_record_describes_both_models(record):
    assert set(record["models"]) == set(MODEL_CLASSES)
    assert record["torch_version"] and record["seed"] == 0 and record["device"] == "cpu"
    for stem, entry in record["models"].items():
        assert entry["class"] == f"course_utils.models.{MODEL_CLASSES[stem].__name__}"
        assert entry["training_seconds"] > 0 and 0.9 < entry["test_accuracy"] <= 1


@pytest.mark.parametrize("stem", sorted(MODEL_CLASSES))
def test_a_weights_file_exists_and_is_under_three_megabytes(stem, record):
    path = WEIGHTS_DIR / f"{stem}.pt"
    assert path.is_file(), f"{path} is missing: run scripts/train_course_models.py"
    assert path.stat().st_size < MAX_BYTES, f"{path.name} is {path.stat().st_size:,} bytes"
    assert record["models"][stem]["file_bytes"] == path.stat().st_size


def test_the_mlp_is_stored_in_half_precision_and_the_cnn_in_single():
    mlp_state = torch.load(WEIGHTS_DIR / "mlp.pt", weights_only=True)
    cnn_state = torch.load(WEIGHTS_DIR / "cnn.pt", weights_only=True)
    assert all(value.dtype == torch.float16 for value in mlp_state.values())
    assert all(value.dtype == torch.float32 for value in cnn_state.values() if value.is_floating_point())


@pytest.mark.parametrize("stem", sorted(MODEL_CLASSES))
def test_a_loaded_model_has_the_course_parameters_and_gives_its_recorded_accuracy(stem, record, test_data):
    model = _loaded(stem)
    entry = record["models"][stem]
    assert train.count_parameters(model) == entry["parameters"]
    _, accuracy = train.evaluate(model, *test_data)
    assert abs(accuracy - entry["test_accuracy"]) <= 0.001, f"{stem}: {accuracy:.4f} vs recorded {entry['test_accuracy']:.4f}"


def test_half_precision_did_not_change_the_mlp_accuracy(record):
    entry = record["models"]["mlp"]
    assert entry["parameters"] == 814_090 and entry["stored_dtype"] == "float16"
    assert abs(entry["test_accuracy"] - entry["test_accuracy_before_saving"]) <= 0.001


def _committed_output(notebook: str, marker: str) -> str:
    """The text output of the first code cell of ``notebook`` whose source contains ``marker``."""
    cells = json.loads((ROOT / "notebooks" / notebook).read_text(encoding="utf-8"))["cells"]
    for cell in cells:
        if cell["cell_type"] == "code" and marker in "".join(cell["source"]):
            return "".join("".join(output.get("text", "")) for output in cell["outputs"])
    raise LookupError(f"{notebook}: no code cell contains {marker!r}")


# notebook, its switch, the course model it loads, the cell printing the accuracy to match, and how it prints it
RECOVERY_SWITCHES = [("04_cnn_mnist.ipynb", "LOAD_TRAINED_CNN", "cnn", "cnn_val_accuracy = ", r"CNN validation accuracy: ([0-9.]+)%"),
                     ("05_rnn_mnist.ipynb", "LOAD_TRAINED_LSTM", "lstm", "lstm_val_accuracy = ", r"\nLSTM +[0-9,]+ +([0-9.]+)%")]


@pytest.mark.parametrize("notebook, switch, stem, marker, pattern", RECOVERY_SWITCHES, ids=[row[0][:2] for row in RECOVERY_SWITCHES])
def test_a_recovery_switch_loads_the_model_its_notebook_trains(notebook, switch, stem, marker, pattern):
    """With the switch on, the notebook loads data/weights/<stem>.pt: it must score what the committed run printed."""
    import re

    from course_utils import deployment

    splits = data.load_mnist()
    _, _, val_images, val_labels = data.train_val_split(splits.train_images, splits.train_labels, val_fraction=0.1, seed=0)
    model = deployment.load_course_weights(MODEL_CLASSES[stem](), stem)
    _, val_accuracy = train.evaluate(model, *data.to_tensors(val_images, val_labels))
    printed = re.search(pattern, _committed_output(notebook, marker))
    assert printed, f"{notebook} no longer prints the validation accuracy the test compares with"
    assert f"{val_accuracy:.2%}" == f"{float(printed.group(1)):.2f}%", (
        f"data/weights/{stem}.pt scores {val_accuracy:.2%} on the validation digits, the committed {notebook} "
        f"{printed.group(1)}%: rebuild it with scripts/train_course_models.py --only {stem}")
    sources = "".join("".join(cell["source"]) for cell in json.loads((ROOT / "notebooks" / notebook).read_text())["cells"])
    assert f"{switch} = False" in sources, f"{notebook} must train by default ({switch} stays False), so nbval checks the training"


def test_an_unknown_course_model_is_refused_by_name():
    from course_utils import deployment

    with pytest.raises(ValueError, match="ships weights for \\['cnn', 'lstm', 'mlp'\\]"):
        deployment.load_course_weights(models.CNN(), "gru")
