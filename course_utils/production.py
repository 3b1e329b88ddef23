"""From notebook to production (notebook 06): ablations, saving and loading, timing, quantization.

The reference versions of what notebook 06 builds::

    from course_utils import production
    model = production.AblationCNN(norm="batch", dropout=0.25)      # one row of an ablation table
    results = production.run_ablation(production.ABLATION_ROWS, train_data, test_data)
    production.save_weights(model, "model.pt")                       # state_dict only
    production.load_weights(production.AblationCNN(norm="batch"), "model.pt")
    production.measure_latency(model, batch_size=32)                 # milliseconds and images per second
    small_model = production.quantize_linear_layers(model)           # int8 weights in the nn.Linear layers

Images are normalized float tensors (N, 1, 28, 28) as from
``course_utils.data.to_tensors``; labels are int64 tensors (N,) of 0..9.
"""

from __future__ import annotations

import json
import copy
import io
import time
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from course_utils import data, train

NUM_CLASSES = 10
IMAGE_SIDE = 28

ACTIVATIONS = {"relu": nn.ReLU, "tanh": nn.Tanh, "gelu": nn.GELU, "sigmoid": nn.Sigmoid}
NORMS = ("none", "batch", "layer")

# The rows of the notebook's ablation table: each changes one thing from the plain CNN.
ABLATION_ROWS: dict[str, dict] = {
    "plain CNN (ReLU)": {},
    "+ batch norm": {"norm": "batch"},
    "+ layer norm (instead)": {"norm": "layer"},
    "+ dropout 0.25": {"dropout": 0.25},
    "tanh instead of ReLU": {"activation": "tanh"},
    "GELU instead of ReLU": {"activation": "gelu"},
    "+ extra conv layer": {"extra_layer": True},
    "+ extra conv layer with residual": {"extra_layer": True, "residual": True},
}

# Every row is trained once per seed, so that chance can be told apart from a real effect;
# a row costs about a second on a laptop CPU, the whole table about half a minute.
ABLATION_SEEDS = (0, 1, 2)
ABLATION_EPOCHS = 3
ABLATION_BATCH_SIZE = 64
ABLATION_LEARNING_RATE = 2e-3


def _norm_layer(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "layer":
        # Layer norm of a feature map: mean and variance over all channels and positions of one image.
        return nn.GroupNorm(1, channels)
    return nn.Identity()


class AblationCNN(nn.Module):
    """A small CNN whose parts can be switched one at a time.

    conv(1→c1) → norm → act → pool → conv(c1→c2) → norm → act → pool
    → [extra conv(c2→c2) → norm → act, added to its input when residual] → flatten
    → dropout → linear(c2·7·7 → hidden) → act → dropout → linear(hidden → 10)

    norm        "none", "batch" (BatchNorm2d) or "layer" (GroupNorm with one group:
                layer norm over channels × height × width of each image)
    activation  "relu", "tanh", "gelu" or "sigmoid"
    dropout     probability of zeroing an input of each linear layer while training
    extra_layer one more 3×3 convolution at 7×7 resolution
    residual    add the extra layer's input to its output (needs extra_layer)

    Input (N, 1, 28, 28) normalized images; output (N, 10) logits.
    """

    def __init__(self, *, norm: str = "none", activation: str = "relu", dropout: float = 0.0,
                 extra_layer: bool = False, residual: bool = False, channels: tuple[int, int] = (8, 16), hidden: int = 32):
        super().__init__()
        if norm not in NORMS:
            raise ValueError(f"norm must be one of {NORMS}, got {norm!r}")
        if activation not in ACTIVATIONS:
            raise ValueError(f"activation must be one of {sorted(ACTIVATIONS)}, got {activation!r}")
        if not 0.0 <= dropout < 1.0:
            raise ValueError(f"dropout must be a probability in [0, 1), got {dropout}")
        if residual and not extra_layer:
            raise ValueError("residual=True adds a skip connection around the extra layer: set extra_layer=True too")
        first, second = channels
        act = ACTIVATIONS[activation]
        self.residual = residual
        self.features = nn.Sequential(
            nn.Conv2d(1, first, 3, padding=1), _norm_layer(norm, first), act(), nn.MaxPool2d(2),        # 28 → 14
            nn.Conv2d(first, second, 3, padding=1), _norm_layer(norm, second), act(), nn.MaxPool2d(2),  # 14 → 7
        )
        self.extra = (nn.Sequential(nn.Conv2d(second, second, 3, padding=1), _norm_layer(norm, second), act())
                      if extra_layer else None)
        self.classifier = nn.Sequential(
            nn.Flatten(), nn.Dropout(dropout), nn.Linear(second * 7 * 7, hidden), act(), nn.Dropout(dropout),
            nn.Linear(hidden, NUM_CLASSES),
        )

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        features = self.features(images)
        if self.extra is not None:
            features = features + self.extra(features) if self.residual else self.extra(features)
        return self.classifier(features)


@dataclass
class AblationResult:
    """One row of an ablation table, trained once per seed.

    Accuracies are fractions 0..1, one per seed; ``train_seconds`` is the mean
    wall-clock training time of one run.
    """

    name: str
    val_accuracies: list[float]
    test_accuracies: list[float]
    parameters: int
    train_seconds: float

    @property
    def val_mean(self) -> float:
        return float(np.mean(self.val_accuracies))

    @property
    def val_std(self) -> float:
        """Sample standard deviation over the seeds (0 for a single seed)."""
        return float(np.std(self.val_accuracies, ddof=1)) if len(self.val_accuracies) > 1 else 0.0

    @property
    def test_mean(self) -> float:
        return float(np.mean(self.test_accuracies))


def train_ablation_row(settings: dict, train_data, *, num_epochs: int = ABLATION_EPOCHS, seed: int = 0,
                       learning_rate: float = ABLATION_LEARNING_RATE, batch_size: int = ABLATION_BATCH_SIZE):
    """Build ``AblationCNN(**settings)`` with seeded weights on the data's device and train it with Adam.

    Returns ``(model, history)``. Every row uses the same seed, data order, optimizer and epochs,
    so the only difference between rows is the setting itself.
    """
    torch.manual_seed(seed)
    model = AblationCNN(**settings).to(train_data[0].device)
    optimizer = torch.optim.Adam(model.parameters(), lr=learning_rate)
    history = train.fit(model, optimizer, nn.CrossEntropyLoss(), train_data, num_epochs=num_epochs,
                        batch_size=batch_size, seed=seed, live_plot=False, progress=False)
    return model, history


def run_ablation(rows: dict[str, dict], train_data, val_data, test_data, *, seeds=ABLATION_SEEDS,
                 num_epochs: int = ABLATION_EPOCHS, verbose: bool = True) -> list[AblationResult]:
    """Train every row (name → AblationCNN settings) once per seed; measure validation and test accuracy.

    Decide with the validation accuracies (mean and spread over the seeds); the
    test accuracies are there to report, not to choose.
    """
    if not rows:
        raise ValueError("rows is empty: give at least one name → settings pair")
    if len(seeds) < 1:
        raise ValueError("seeds is empty: give at least one seed")
    results = []
    for name, settings in rows.items():
        val_accuracies, test_accuracies, seconds = [], [], []
        for seed in seeds:
            model, history = train_ablation_row(settings, train_data, num_epochs=num_epochs, seed=seed)
            val_accuracies.append(train.evaluate(model, *val_data)[1])
            test_accuracies.append(train.evaluate(model, *test_data)[1])
            seconds.append(history.total_seconds)
        result = AblationResult(name, val_accuracies, test_accuracies, train.count_parameters(model), float(np.mean(seconds)))
        results.append(result)
        if verbose:
            print(f"  {name:<34} validation {result.val_mean:.2%} ± {result.val_std:.2%} over {len(seeds)} seeds")
    return results


def format_ablation_table(results: list[AblationResult]) -> str:
    """The results as a fixed-width text table: validation mean ± sd, test mean (%), parameters, seconds per run."""
    lines = [f"{'model':<34} {'validation (mean ± sd)':>22} {'test (mean)':>11} {'parameters':>11} {'s per run':>10}"]
    for result in results:
        validation = f"{result.val_mean:.2%} ± {result.val_std:.2%}"
        lines.append(f"{result.name:<34} {validation:>22} {result.test_mean:>11.2%} {result.parameters:>11,} {result.train_seconds:>8.1f} s")
    return "\n".join(lines)


# ---------------------------------------------------------------- post-processing

def least_confident(probabilities, count: int) -> np.ndarray:
    """Indices of the ``count`` rows of ``probabilities`` (N, C) whose largest probability is smallest.

    Least confident first; ties keep their original order. Returns int64 (count,).
    """
    probabilities = np.asarray(probabilities.detach().cpu() if torch.is_tensor(probabilities) else probabilities)
    if probabilities.ndim != 2:
        raise ValueError(f"probabilities must have shape (N, C), got {probabilities.shape}")
    if not 0 <= count <= len(probabilities):
        raise ValueError(f"count must be between 0 and {len(probabilities)}, got {count}")
    confidence = probabilities.max(axis=1)
    return np.argsort(confidence, kind="stable")[:count].astype(np.int64)


@torch.no_grad()
def strongest_inputs(model: nn.Module, layer: nn.Module, unit: int, images: torch.Tensor, count: int = 8,
                     *, batch_size: int = 1024) -> tuple[np.ndarray, np.ndarray]:
    """The ``count`` images that drive one unit of ``layer`` hardest ("inspect a neuron").

    ``layer`` is a sub-module of ``model``; its output is (N, units) or (N, channels, H, W)
    (a channel's activation is then its largest value over positions). Returns
    ``(indices, activations)``: int64 (count,) and float (count,), strongest first.
    """
    captured: list[torch.Tensor] = []
    hook = layer.register_forward_hook(lambda module, inputs, output: captured.append(output.detach()))
    model.eval()
    try:
        for start in range(0, len(images), batch_size):
            model(images[start : start + batch_size])
    finally:
        hook.remove()
    outputs = torch.cat(captured)
    if not 0 <= unit < outputs.shape[1]:
        raise ValueError(f"unit must be between 0 and {outputs.shape[1] - 1} for this layer, got {unit}")
    values = outputs[:, unit]
    if values.ndim > 1:
        values = values.flatten(1).amax(dim=1)
    order = torch.argsort(values, descending=True, stable=True)[:count]
    return order.cpu().numpy().astype(np.int64), values[order].cpu().numpy()


# ---------------------------------------------------------------- saving and loading

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


# ---------------------------------------------------------------- fast inference

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


def _synchronize(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


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
    images = torch.randn(batch_size, 1, IMAGE_SIDE, IMAGE_SIDE, generator=torch.Generator().manual_seed(0)).to(device)
    for _ in range(warmup):
        model(images)
    _synchronize(device)
    durations = []
    budget_end = time.perf_counter() + max_seconds
    for _ in range(repeats):
        started = time.perf_counter()
        model(images)
        _synchronize(device)
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


# ---------------------------------------------------------------- the model we ship

# Notebook 04's CNN, slimmed so that it trains in seconds on a laptop CPU: two blocks (16 and 32 channels) of one
# convolution each instead of three blocks of two, a 64-unit hidden layer, two epochs. cnn.CNN() with its defaults works the same way, only slower.
SERVED_CNN_SETTINGS = {"channels": [16, 32], "convs_per_block": 1, "hidden_units": [64], "batch_norm": True, "dropout": 0.25}
SERVED_EPOCHS = 2
SERVED_LEARNING_RATE = 3e-3


def build_cnn(settings: dict | None = None) -> nn.Module:
    """``course_utils.cnn.CNN(**settings)``; ``None`` means ``SERVED_CNN_SETTINGS``."""
    from course_utils import cnn

    return cnn.CNN(**(SERVED_CNN_SETTINGS if settings is None else settings))


def train_served_cnn(train_data, *, val_data=None, settings: dict | None = None, num_epochs: int = SERVED_EPOCHS,
                     seed: int = 0, live_plot: bool = False, progress: bool = False):
    """Train ``build_cnn(settings)`` with notebook 04's recipe, shortened to ``num_epochs``.

    AdamW (weight decay 1e-4), one-cycle learning rate peaking at 3e-3, batches of 64,
    random shifts of up to 2 pixels. Returns ``(model, history)``.
    """
    images, _ = train._check_data("train_data", train_data)
    torch.manual_seed(seed)                                   # seed the weights
    model = build_cnn(settings).to(images.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=SERVED_LEARNING_RATE, weight_decay=1e-4)
    steps_per_epoch = (len(images) + 63) // 64
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=SERVED_LEARNING_RATE, epochs=num_epochs,
                                                    steps_per_epoch=steps_per_epoch)
    history = train.fit(model, optimizer, nn.CrossEntropyLoss(), train_data, val_data=val_data, num_epochs=num_epochs,
                        batch_size=64, seed=seed, scheduler=scheduler, augment=data.RandomShift(2, seed=seed),
                        live_plot=live_plot, progress=progress, title="CNN to ship (live)")
    return model, history


def model_card_path(weights_path: str | Path) -> Path:
    """Where the model card of ``weights_path`` lives: the same name with ``.json`` added."""
    weights_path = Path(weights_path)
    return weights_path.with_name(weights_path.name + ".json")


def save_model(model: nn.Module, path: str | Path, *, settings: dict | None = None, **facts) -> Path:
    """Save weights (``state_dict``) to ``path`` and a JSON model card beside it.

    The card records the architecture (``cnn.CNN`` settings) so the weights can be
    loaded without the notebook, plus any ``facts`` (test accuracy, data, date...).
    Both files are plain data: loading them cannot run code.
    """

    path = save_weights(model, path)
    card = {"architecture": "course_utils.cnn.CNN", "settings": SERVED_CNN_SETTINGS if settings is None else settings,
            "input": "(N, 1, 28, 28) images, pixels/255 normalized with mean 0.1307 and std 0.3081", **facts}
    model_card_path(path).write_text(json.dumps(card, indent=2) + "\n")
    return path


def load_model(path: str | Path) -> nn.Module:
    """Rebuild the CNN described by the model card beside ``path`` and load its weights (CPU, eval mode).

    Without a card, ``SERVED_CNN_SETTINGS`` is assumed.
    """

    card_path = model_card_path(path)
    settings = None
    if card_path.is_file():
        card = json.loads(card_path.read_text())
        if card.get("architecture") != "course_utils.cnn.CNN":
            raise ValueError(f"{card_path} describes {card.get('architecture')!r}; only course_utils.cnn.CNN can be loaded")
        settings = card.get("settings")
    return load_weights(build_cnn(settings), path)
