"""Train the course's final MLP (notebook 03), CNN (notebook 04) and LSTM (notebook 05) once and save their weights.

For maintainers. Notebook 05 compares feed-forward, recurrent and convolutional networks; instead of retraining
the MLP and the CNN there (about half a minute of an idle 2-core CPU), it loads the weights this script saves. The
recovery switches of notebooks 04 (``LOAD_TRAINED_CNN``) and 05 (``LOAD_TRAINED_LSTM``) load them too, in place of
their longest trainings::

    python scripts/train_course_models.py            # under a minute on an idle 2-core CPU

Each model is trained as its notebook trains it: ``models.trained(models.MLP, ..., models.MLP_RECIPE, seed=0)``
(and the same for the CNN) on the same training split as the notebooks (``data.train_val_split(...,
val_fraction=0.1, seed=0)``: 7,200 digits), on the CPU, so on a CPU they are the very models notebooks 03
and 04 train. Written to ``data/weights/``:

- ``mlp.pt``: the MLP's state dict in float16 (its 814,090 float32 parameters would take 3.26 MB; half
  precision halves that, and the script measures that the test accuracy does not change);
- ``cnn.pt``: the CNN's state dict in float32;
- ``lstm.pt``: notebook 05's LSTM (``models.RowClassifier()``, trained with ``models.LSTM_RECIPE``) in float32;
- ``models.json``: for each model its parameter count, test accuracy (of the saved file, loaded back as
  float32), training seconds as measured here (wall clock, and the process's CPU seconds, with the machine's
  load average before training: on a shared machine the wall clock grows with the load), the storage dtype
  and the file's size; the torch version.

``tests/test_course_weights.py`` loads the files and checks the recorded accuracies.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import time
from pathlib import Path

import torch

from course_utils import data, device, models, train

ROOT = Path(__file__).resolve().parents[1]
WEIGHTS_DIR = ROOT / "data" / "weights"
SEED = 0
MAX_FILE_BYTES = 3_000_000
COURSE_MODELS = {   # file stem -> (model class, recipe, storage dtype, the notebook that trains it)
    "mlp": (models.MLP, models.MLP_RECIPE, torch.float16, "03"),
    "cnn": (models.CNN, models.CNN_RECIPE, torch.float32, "04"),
    "lstm": (models.RowClassifier, models.LSTM_RECIPE, torch.float32, "05"),
}


def stored(state_dict: dict, dtype: torch.dtype) -> dict:
    """The state dict with its floating-point tensors in ``dtype`` (integer buffers such as counters stay)."""
    return {name: tensor.to(dtype) if tensor.is_floating_point() else tensor for name, tensor in state_dict.items()}


def load_back(model_class, payload: bytes) -> torch.nn.Module:
    """A fresh ``model_class()`` with the saved weights, as float32, in evaluation mode (as notebook 05 loads it)."""
    state_dict = torch.load(io.BytesIO(payload), weights_only=True)
    model = model_class()
    model.load_state_dict(stored(state_dict, torch.float32))
    return model.eval()


def train_and_save(stem: str, train_data, test_data, out_dir: Path) -> dict:
    """Train one course model, save it, and return its record for models.json."""
    model_class, recipe, dtype, notebook = COURSE_MODELS[stem]
    load_before = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    cpu_started = time.process_time()
    model, history = models.trained(model_class, train_data, recipe, seed=SEED)
    cpu_seconds = time.process_time() - cpu_started
    _, trained_accuracy = train.evaluate(model, *test_data)
    buffer = io.BytesIO()
    torch.save(stored(model.state_dict(), dtype), buffer)
    payload = buffer.getvalue()
    if len(payload) >= MAX_FILE_BYTES:
        raise SystemExit(f"{stem}.pt would be {len(payload):,} bytes, over {MAX_FILE_BYTES:,}")
    _, saved_accuracy = train.evaluate(load_back(model_class, payload), *test_data)
    (out_dir / f"{stem}.pt").write_bytes(payload)
    record = {"class": f"course_utils.models.{model_class.__name__}", "notebook": notebook,
              "parameters": train.count_parameters(model), "stored_dtype": str(dtype).replace("torch.", ""),
              "file_bytes": len(payload), "test_accuracy": round(saved_accuracy, 6),
              "test_accuracy_before_saving": round(trained_accuracy, 6),
              "training_seconds": round(history.total_seconds, 1), "training_cpu_seconds": round(cpu_seconds, 1),
              "load_average_before_training": None if load_before is None else round(load_before, 1),
              "num_epochs": recipe.num_epochs}
    print(f"{stem}: {record['parameters']:,} parameters, test accuracy {trained_accuracy:.2%} trained, "
          f"{saved_accuracy:.2%} saved as {record['stored_dtype']} ({len(payload) / 1e6:.2f} MB), "
          f"trained in {history.total_seconds:.1f} s")
    return record


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=WEIGHTS_DIR, help="folder for the .pt files and models.json")
    parser.add_argument("--only", choices=sorted(COURSE_MODELS), help="train one of the models only")
    arguments = parser.parse_args()
    arguments.out.mkdir(parents=True, exist_ok=True)
    device.seed_everything(SEED)
    splits = data.load_mnist()
    train_uint8, train_labels, _, _ = data.train_val_split(splits.train_images, splits.train_labels,
                                                           val_fraction=0.1, seed=0)     # the split of notebooks 03-05
    train_data = data.to_tensors(train_uint8, train_labels, "cpu")
    test_data = data.to_tensors(splits.test_images, splits.test_labels, "cpu")
    card_path = arguments.out / "models.json"
    card = json.loads(card_path.read_text()) if card_path.is_file() else {"models": {}}
    for stem in [arguments.only] if arguments.only else sorted(COURSE_MODELS):
        card["models"][stem] = train_and_save(stem, train_data, test_data, arguments.out)
    card.update({
        "description": "Weights of the course's final MLP (notebook 03), CNN (notebook 04) and LSTM (notebook 05), trained by "
                       "scripts/train_course_models.py with models.trained(..., seed=0) on the training split of "
                       "notebooks 03-05 (7,200 of the 8,000 bundled training digits; the other 800 are their "
                       "validation split), on the CPU; test accuracy on the 2,000 bundled test digits, of the saved "
                       "file loaded back as float32. Notebook 05 loads the MLP and the CNN for its comparison table; the recovery "
                       "switches of notebooks 04 and 05 load the CNN and the LSTM.",
        "seed": SEED, "device": "cpu", "cpu_threads": torch.get_num_threads(), "torch_version": torch.__version__,
        "python_version": platform.python_version(),
    })
    card_path.write_text(json.dumps(card, indent=2) + "\n")
    print(f"wrote {card_path.relative_to(ROOT) if card_path.is_relative_to(ROOT) else card_path}")


if __name__ == "__main__":
    main()
