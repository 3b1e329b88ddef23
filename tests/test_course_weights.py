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

WEIGHTS_DIR = Path(__file__).resolve().parents[1] / "data" / "weights"
MODEL_CLASSES = {"mlp": models.MLP, "cnn": models.CNN}
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
