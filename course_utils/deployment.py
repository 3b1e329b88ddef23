"""Putting a trained model to use: save and load it with a model card, time it, shrink it.

    from course_utils import deployment
    deployment.save_model(model, "model.pt", test_accuracy=0.99)    # weights + model card (JSON)
    model = deployment.load_model("model.pt")                         # rebuilt from the card, eval mode
    deployment.measure_latency(model, batch_size=32)                  # fastest pass: ms and images per second
    small_model = deployment.quantize_linear_layers(model)            # int8 weights in the nn.Linear layers

Only torch and numpy are needed here (and by ``course_utils.serve``), so the
service runs in a slim container; ``tests/test_deploy.py`` proves it.
"""

from __future__ import annotations

import copy
import io
import json
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from course_utils import data, models
from course_utils import device as device_module
from course_utils.train import Recipe

# The model the service ships: notebook 04's CNN cut to two blocks of one convolution (16 and 32 channels)
# and a 64-unit hidden layer, trained with notebook 04's recipe for two epochs, so it trains in seconds on a
# laptop CPU. models.CNN() with its defaults works the same way, only slower.
SERVED_CNN_SETTINGS = {"channels": [16, 32], "convs_per_block": 1, "hidden_units": [64], "batch_norm": True, "dropout": 0.25}
SERVED_RECIPE = Recipe(num_epochs=2, batch_size=64, learning_rate=3e-3, optimizer="adamw", weight_decay=1e-4, max_shift=2)
ARCHITECTURE = "course_utils.models.CNN"


def build_served_cnn(settings: dict | None = None) -> nn.Module:
    """``models.CNN(**settings)``; ``None`` means ``SERVED_CNN_SETTINGS``."""
    return models.CNN(**(SERVED_CNN_SETTINGS if settings is None else settings))


def save_weights(model: nn.Module, path: str | Path) -> Path:
    """Write the model's ``state_dict`` (tensors only, no code) to ``path``; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(model.state_dict(), path)
    return path


def load_weights(model: nn.Module, path: str | Path, *, map_location: str | torch.device = "cpu") -> nn.Module:
    """Load a saved ``state_dict`` into ``model`` (same architecture) safely and return it in eval mode.

    ``weights_only=True`` makes ``torch.load`` refuse anything but tensors and plain
    containers, so a tampered file cannot run code while it is read.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no saved weights at {path}: save them first with save_weights(model, path)")
    state = torch.load(path, map_location=map_location, weights_only=True)
    model.load_state_dict(state)
    return model.eval()


def state_dict_bytes(model: nn.Module) -> int:
    """Size in bytes of the model's ``state_dict`` as ``torch.save`` writes it."""
    buffer = io.BytesIO()
    torch.save(model.state_dict(), buffer)
    return buffer.getbuffer().nbytes


@dataclass
class Timing:
    """Fastest time of one forward pass of a batch, and the images per second that implies."""

    device: str
    batch_size: int
    milliseconds_per_batch: float
    images_per_second: float

    @property
    def milliseconds_per_image(self) -> float:
        return self.milliseconds_per_batch / self.batch_size


@torch.no_grad()
def measure_latency(model: nn.Module, batch_size: int, *, device: str | torch.device | None = None,
                    repeats: int = 20, warmup: int = 3, max_seconds: float = 2.0) -> Timing:
    """Time ``model`` on a random batch (batch_size, 1, 28, 28): the fastest of ``repeats`` forward passes.

    The fastest pass is what the hardware does when nothing else interferes; slower
    passes measure the other programs on the machine (on a busy computer the median
    can be many times the minimum). ``device`` defaults to where the model's
    parameters are. The first ``warmup`` passes are not counted (they allocate memory,
    pick kernels). Stops early after ``max_seconds`` of timed passes (at least 3),
    so slow devices still finish quickly. On a GPU the clock waits for the device
    to finish (``synchronize``).
    """
    if not isinstance(batch_size, int) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    parameter = next(model.parameters(), None)
    device = torch.device(device) if device is not None else (parameter.device if parameter is not None else torch.device("cpu"))
    model.eval()
    images = torch.randn(batch_size, 1, data.IMAGE_SIDE, data.IMAGE_SIDE, generator=torch.Generator().manual_seed(0)).to(device)
    for _ in range(warmup):
        model(images)
    device_module.synchronize(device)
    durations = []
    budget_end = time.perf_counter() + max_seconds
    for _ in range(repeats):
        started = time.perf_counter()
        model(images)
        device_module.synchronize(device)
        durations.append(time.perf_counter() - started)
        if len(durations) >= 3 and time.perf_counter() > budget_end:
            break
    seconds = min(durations)
    return Timing(device.type, batch_size, seconds * 1000, batch_size / seconds)


def latency_table(model: nn.Module, batch_sizes=(1, 32, 1024), devices=None, **options) -> list[Timing]:
    """``measure_latency`` for every batch size on every device (default: CPU, plus CUDA if present).

    The model is copied to each device; the original is left where it is.
    """
    if devices is None:
        devices = ["cpu"] + (["cuda"] if torch.cuda.is_available() else [])
    timings = []
    for device in devices:
        placed = copy.deepcopy(model).to(device)
        for batch_size in batch_sizes:
            timings.append(measure_latency(placed, batch_size, device=device, **options))
    return timings


def format_timings(timings: list[Timing]) -> str:
    """Timings as a fixed-width text table."""
    lines = [f"{'device':<7} {'batch':>6} {'ms per batch':>13} {'ms per image':>13} {'images per s':>13}"]
    for timing in timings:
        lines.append(f"{timing.device:<7} {timing.batch_size:>6} {timing.milliseconds_per_batch:>13.3f} "
                     f"{timing.milliseconds_per_image:>13.4f} {timing.images_per_second:>13,.0f}")
    return "\n".join(lines)


def quantize_linear_layers(model: nn.Module) -> nn.Module:
    """A CPU copy of ``model`` whose ``nn.Linear`` layers store int8 weights (dynamic quantization).

    Weights are rounded to 256 levels per layer once; activations are quantized on the fly
    at each call. Convolutions stay float32. The original model is not changed.
    """
    float_model = copy.deepcopy(model).cpu().eval()
    with warnings.catch_warnings():
        # torch.ao.quantization still works but announces its move to the separate torchao package.
        warnings.simplefilter("ignore")
        return torch.ao.quantization.quantize_dynamic(float_model, {nn.Linear}, dtype=torch.qint8)


def model_card_path(weights_path: str | Path) -> Path:
    """Where the model card of ``weights_path`` lives: the same name with ``.json`` added."""
    weights_path = Path(weights_path)
    return weights_path.with_name(weights_path.name + ".json")


def save_model(model: nn.Module, path: str | Path, *, settings: dict | None = None, **facts) -> Path:
    """Save weights (``state_dict``) to ``path`` and a JSON model card beside it.

    The card records the architecture (``models.CNN`` settings) so the weights can be
    loaded without the notebook, plus any ``facts`` (test accuracy, data, date...).
    Both files are plain data: loading them cannot run code.
    """

    path = save_weights(model, path)
    card = {"architecture": ARCHITECTURE, "settings": SERVED_CNN_SETTINGS if settings is None else settings,
            "input": f"(N, 1, 28, 28) images, pixels/255 normalized with mean {data.PIXEL_MEAN} and std {data.PIXEL_STD}",
            **facts}
    model_card_path(path).write_text(json.dumps(card, indent=2) + "\n")
    return path


def load_model(path: str | Path) -> nn.Module:
    """Rebuild the CNN described by the model card beside ``path`` and load its weights (CPU, eval mode).

    Without a card, ``SERVED_CNN_SETTINGS`` is assumed.
    """

    card_path = model_card_path(path)
    settings = read_model_card(card_path).get("settings") if card_path.is_file() else None
    return load_weights(build_served_cnn(settings), path)


def read_model_card(card_path: str | Path) -> dict:
    """The model card at ``card_path`` as a dict, checked: a JSON object naming ``ARCHITECTURE``, with dict settings.

    Raises ``ValueError`` naming the file and what is wrong with it.
    """
    card_path = Path(card_path)
    fix = "save the model again with deployment.save_model(model, path), which writes a good card"
    try:
        card = json.loads(card_path.read_text(encoding="utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"the model card {card_path} is not valid JSON ({error}): {fix}") from None
    if not isinstance(card, dict):
        raise ValueError(f"the model card {card_path} must be a JSON object, got a JSON {type(card).__name__}: {fix}")
    if card.get("architecture") != ARCHITECTURE:
        raise ValueError(f"{card_path} describes {card.get('architecture')!r}; only {ARCHITECTURE} can be loaded")
    if not isinstance(card.get("settings", {}), dict):
        raise ValueError(f"the model card {card_path} has settings that are not a JSON object: {fix}")
    return card


def course_weights_record(stem: str) -> dict:
    """What data/weights/models.json records about the course's trained model ``stem`` ("mlp", "cnn" or "lstm")."""
    record = json.loads((data.data_dir() / "weights" / "models.json").read_text(encoding="utf-8"))["models"]
    if stem not in record:
        raise ValueError(f"the course ships weights for {sorted(record)}, not {stem!r}")
    return record[stem]


def load_course_weights(model: nn.Module, stem: str) -> nn.Module:
    """``model`` with the course's trained weights ``data/weights/<stem>.pt`` (scripts/train_course_models.py), in eval mode.

    The weights stay on the device ``model`` is on; half-precision files are cast to the model's dtype on loading.
    """
    course_weights_record(stem)  # a clear error for an unknown name
    where = next(model.parameters()).device
    return load_weights(model, data.data_dir() / "weights" / f"{stem}.pt", map_location=where)
