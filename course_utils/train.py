"""One plain training loop and the evaluation helpers every notebook uses.

    history = train.fit(model, optimizer, loss_fn, (train_x, train_y),
                        val_data=(val_x, val_y), num_epochs=5, batch_size=64)

``train_epoch`` is the five steps of the course, for every mini-batch: take a
mini-batch, forward pass, cost, backward pass, update (notebook 03 writes it on
its page; a test keeps the two identical). ``fit`` repeats it and records a
``History``; ``train_with_recipe`` builds the optimizer, schedule and
augmentation that a ``Recipe`` names and calls ``fit``. Data are tensors already on the
device (see ``course_utils.data.to_tensors``); the loop reads numbers back
from the device once per epoch, not once per batch, so it stays fast on a GPU.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import torch
from torch import nn

from course_utils.data import NUM_CLASSES, Batches, RandomShift


@dataclass
class History:
    """Per-epoch figures recorded by ``fit``: losses are means per image, accuracies fractions 0..1."""

    train_loss: list[float] = field(default_factory=list)
    train_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    epoch_seconds: list[float] = field(default_factory=list)

    @property
    def total_seconds(self) -> float:
        return float(sum(self.epoch_seconds))

    def __repr__(self) -> str:
        if not self.train_loss:
            return "History(no epochs)"
        last = f"train loss {self.train_loss[-1]:.4f}, train accuracy {self.train_accuracy[-1]:.2%}"
        if self.val_loss:
            last += f", val loss {self.val_loss[-1]:.4f}, val accuracy {self.val_accuracy[-1]:.2%}"
        return f"History({len(self.train_loss)} epochs, {last})"


def _check_data(name: str, data) -> tuple[torch.Tensor, torch.Tensor]:
    if not (isinstance(data, (tuple, list)) and len(data) == 2):
        raise TypeError(f"{name} must be a pair (inputs, labels) of tensors, got {type(data).__name__}")
    inputs, labels = data
    if not (torch.is_tensor(inputs) and torch.is_tensor(labels)):
        raise TypeError(f"{name} must hold tensors; convert numpy arrays with course_utils.data.to_tensors")
    if len(inputs) != len(labels):
        raise ValueError(f"{name}: {len(inputs)} inputs but {len(labels)} labels")
    return inputs, labels


def _model_device(model: nn.Module) -> torch.device:
    parameter = next(model.parameters(), None)
    return parameter.device if parameter is not None else torch.device("cpu")


def train_epoch(model, optimizer, loss_fn, batches, *, augment=None, scheduler=None, max_grad_norm=None):
    """One pass over ``batches``, the five steps of the course for every mini-batch.

    batches        an iterable of (inputs, labels) tensors on the model's device
    augment        optional function applied to each batch of inputs before the forward pass
    scheduler      optional learning-rate scheduler, stepped after every update
    max_grad_norm  optional gradient clipping: rescale all gradients together to at most this norm
    Returns (mean loss per image, accuracy as a fraction 0..1) over the epoch; the numbers are
    added up on the device and read back once, so a GPU never waits for them.
    """
    model.train()
    device = next(model.parameters()).device
    loss_sum = torch.zeros((), device=device)
    correct = torch.zeros((), device=device, dtype=torch.int64)
    seen = 0
    for inputs, labels in batches:                      # 1. a mini-batch
        if augment is not None:
            inputs = augment(inputs)
        outputs = model(inputs)                         # 2. forward pass
        loss = loss_fn(outputs, labels)                 # 3. cost
        optimizer.zero_grad(set_to_none=True)
        loss.backward()                                 # 4. backward pass
        if max_grad_norm is not None:
            nn.utils.clip_grad_norm_(model.parameters(), max_grad_norm)
        optimizer.step()                                # 5. update the weights
        if scheduler is not None:
            scheduler.step()
        loss_sum += loss.detach() * len(labels)
        correct += (outputs.detach().argmax(dim=1) == labels).sum()
        seen += len(labels)
    return loss_sum.item() / seen, correct.item() / seen


def _counted(batches, bar):
    """Yield the batches, moving the progress bar (if any) by one after each."""
    for batch in batches:
        yield batch
        if bar is not None:
            bar.update(1)


def _progress_bar(enabled: bool, total: int):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="training", unit="batch", leave=True)


def _live_plot(enabled: bool, title: str):
    if not enabled:
        return None
    from course_utils import plot

    return plot.LivePlot(title) if plot.in_notebook() else None  # elsewhere nobody would see it


def _record_epoch(history: History, model, loss_fn, val_data, train_figures, started: float, bar, live) -> None:
    history.train_loss.append(train_figures[0])
    history.train_accuracy.append(train_figures[1])
    if val_data is not None:
        val_loss, val_accuracy = evaluate(model, *val_data, loss_fn=loss_fn)
        history.val_loss.append(val_loss)
        history.val_accuracy.append(val_accuracy)
    history.epoch_seconds.append(time.perf_counter() - started)
    if bar is not None:
        postfix = {"loss": f"{history.train_loss[-1]:.3f}", "acc": f"{history.train_accuracy[-1]:.3f}"}
        if val_data is not None:
            postfix["val_acc"] = f"{history.val_accuracy[-1]:.3f}"
        bar.set_postfix(postfix)
    if live is not None:
        live.update(history)


def fit(
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    train_data: tuple[torch.Tensor, torch.Tensor],
    *,
    val_data: tuple[torch.Tensor, torch.Tensor] | None = None,
    num_epochs: int = 5,
    batch_size: int = 64,
    seed: int = 0,
    scheduler=None,
    augment: Callable[[torch.Tensor], torch.Tensor] | None = None,
    max_grad_norm: float | None = None,
    live_plot: bool = True,
    progress: bool = True,
    title: str = "Training (live)",
) -> History:
    """Train ``model`` for ``num_epochs`` epochs of ``train_epoch`` and return its ``History``.

    train_data  (inputs, labels) tensors on the model's device, shuffled into batches of ``batch_size``
    val_data    optional (inputs, labels) evaluated after every epoch
    scheduler, augment, max_grad_norm   passed on to ``train_epoch``
    live_plot   redraw loss and accuracy curves while training (in Jupyter only)
    progress    show a tqdm progress bar over the batches
    The model is left in evaluation mode, whatever the arguments.
    """
    if not isinstance(num_epochs, int) or num_epochs < 1:
        raise ValueError(f"num_epochs must be a positive integer, got {num_epochs!r}")
    train_x, train_y = _check_data("train_data", train_data)
    if val_data is not None:
        _check_data("val_data", val_data)
    device = _model_device(model)
    if train_x.device != device:
        raise ValueError(f"training data are on {train_x.device} but the model is on {device}; move both with .to(device)")
    batches = Batches(train_x, train_y, batch_size, shuffle=True, seed=seed)
    history = History()
    bar, live = _progress_bar(progress, num_epochs * len(batches)), _live_plot(live_plot, title)
    try:
        for _ in range(num_epochs):
            started = time.perf_counter()
            figures = train_epoch(model, optimizer, loss_fn, _counted(batches, bar), augment=augment,
                                  scheduler=scheduler, max_grad_norm=max_grad_norm)
            _record_epoch(history, model, loss_fn, val_data, figures, started, bar, live)
    finally:
        if bar is not None:
            bar.close()
        if live is not None:
            live.close()
    model.eval()
    return history


@dataclass(frozen=True)
class Recipe:
    """How to train a model: the settings ``train_with_recipe`` uses, in one place.

    optimizer          "adam" or "adamw" (Adam with decoupled weight decay)
    learning_rate      the peak of the one-cycle schedule, or the constant rate when ``one_cycle`` is False
    one_cycle          warm the learning rate up to ``learning_rate`` and anneal it to almost 0 (OneCycleLR)
    max_shift          augmentation: shift each training image by up to this many pixels (0: none)
    max_grad_norm      gradient clipping (None: none)
    """

    num_epochs: int
    batch_size: int
    learning_rate: float
    optimizer: str = "adam"
    weight_decay: float = 0.0
    one_cycle: bool = True
    max_shift: int = 0
    max_grad_norm: float | None = None


OPTIMIZERS = {"adam": torch.optim.Adam, "adamw": torch.optim.AdamW}


def train_with_recipe(model: nn.Module, train_data, recipe: Recipe, *, val_data=None, seed: int = 0,
                      live_plot: bool = False, progress: bool = False, title: str = "Training (live)") -> History:
    """Train ``model`` (already on the data's device) with ``recipe`` through ``fit``; returns the History.

    The same seed gives the same batches and the same augmentation, so two recipes that differ in one
    setting differ in that setting only.
    """
    if recipe.optimizer not in OPTIMIZERS:
        raise ValueError(f"unknown optimizer {recipe.optimizer!r}; use one of {', '.join(OPTIMIZERS)}")
    images, labels = _check_data("train_data", train_data)
    optimizer = OPTIMIZERS[recipe.optimizer](model.parameters(), lr=recipe.learning_rate, weight_decay=recipe.weight_decay)
    scheduler = None
    if recipe.one_cycle:
        steps_per_epoch = len(Batches(images, labels, recipe.batch_size))
        scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=recipe.learning_rate,
                                                        epochs=recipe.num_epochs, steps_per_epoch=steps_per_epoch)
    augment = RandomShift(recipe.max_shift, seed=seed) if recipe.max_shift else None
    return fit(model, optimizer, nn.CrossEntropyLoss(), train_data, val_data=val_data, num_epochs=recipe.num_epochs,
               batch_size=recipe.batch_size, seed=seed, scheduler=scheduler, augment=augment,
               max_grad_norm=recipe.max_grad_norm, live_plot=live_plot, progress=progress, title=title)


@torch.no_grad()
def predict(model: nn.Module, inputs: torch.Tensor, *, batch_size: int = 2048) -> torch.Tensor:
    """Model outputs (N, classes) for ``inputs`` in evaluation mode, in large batches."""
    model.eval()
    outputs = [model(inputs[start : start + batch_size]) for start in range(0, len(inputs), batch_size)]
    return torch.cat(outputs) if outputs else torch.empty(0)


@torch.no_grad()
def evaluate(model: nn.Module, inputs: torch.Tensor, labels: torch.Tensor, *, loss_fn=None, batch_size: int = 2048) -> tuple[float, float]:
    """Mean loss (nan without ``loss_fn``) and accuracy (fraction 0..1) of ``model`` on a data set."""
    if len(inputs) != len(labels):
        raise ValueError(f"{len(inputs)} inputs but {len(labels)} labels")
    if len(inputs) == 0:
        raise ValueError("cannot evaluate on an empty data set")
    outputs = predict(model, inputs, batch_size=batch_size)
    loss = loss_fn(outputs, labels).item() if loss_fn is not None else float("nan")
    accuracy = (outputs.argmax(dim=1) == labels).float().mean().item()
    return loss, accuracy


def _labels_array(labels) -> np.ndarray:
    return np.asarray(labels.detach().cpu() if torch.is_tensor(labels) else labels)


def accuracy(true_labels, predicted_labels) -> float:
    """Fraction (0..1) of predictions equal to the truth; both (N,) arrays or tensors of class indices."""
    true, predicted = _labels_array(true_labels), _labels_array(predicted_labels)
    if predicted.shape != true.shape:
        raise ValueError(f"shapes differ: labels {true.shape}, predictions {predicted.shape}")
    if predicted.size == 0:
        raise ValueError("no predictions to score")
    return float((predicted == true).mean())


def confusion_matrix(true_labels, predicted_labels, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """(C, C) counts: entry [t, p] is how many images of true class t were predicted as p."""
    true = _labels_array(true_labels).astype(np.int64)
    predicted = _labels_array(predicted_labels).astype(np.int64)
    if true.shape != predicted.shape:
        raise ValueError(f"shapes differ: labels {true.shape}, predictions {predicted.shape}")
    if true.size and (min(true.min(), predicted.min()) < 0 or max(true.max(), predicted.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar weights and biases in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
