"""One plain training loop and the evaluation helpers every notebook uses.

    history = train.fit(model, optimizer, loss_fn, (train_x, train_y),
                        val_data=(val_x, val_y), num_epochs=5, batch_size=64)

The loop is the five steps of the course, repeated: take a mini-batch,
forward pass, loss, backward pass, update. Data are tensors already on the
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

from course_utils.data import Batches


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
    live_plot: bool = True,
    progress: bool = True,
    title: str = "Training (live)",
) -> History:
    """Train ``model`` and return its ``History``.

    model       a module whose output for a batch is (batch, classes) scores
    optimizer   e.g. ``torch.optim.Adam(model.parameters(), lr=1e-3)``
    loss_fn     ``loss_fn(outputs, labels)`` -> mean loss over the batch
    train_data  (inputs, labels) tensors on the model's device
    val_data    optional (inputs, labels) evaluated after every epoch
    scheduler   optional learning-rate scheduler, stepped after every batch
    augment     optional function applied to each training batch of inputs
    live_plot   redraw loss and accuracy curves while training (in Jupyter only)
    progress    show a tqdm progress bar over the batches

    Accuracy is the share of rows whose highest score is the true label.
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
    plot = None
    if live_plot:
        from course_utils import plot as plotting

        if plotting.in_notebook():  # elsewhere nobody sees it; plot.training_curves(history) draws it afterwards
            plot = plotting.LivePlot(title)
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=num_epochs * len(batches), desc="training", unit="batch", leave=True)
    try:
        for epoch in range(num_epochs):
            started = time.perf_counter()
            model.train()
            loss_sum = torch.zeros((), device=device)
            correct = torch.zeros((), device=device, dtype=torch.int64)
            for inputs, labels in batches:
                if augment is not None:
                    inputs = augment(inputs)
                outputs = model(inputs)                 # forward pass
                loss = loss_fn(outputs, labels)         # cost
                optimizer.zero_grad(set_to_none=True)
                loss.backward()                         # backward pass
                optimizer.step()                        # update the weights
                if scheduler is not None:
                    scheduler.step()
                loss_sum += loss.detach() * len(labels)
                correct += (outputs.detach().argmax(dim=1) == labels).sum()
                if bar is not None:
                    bar.update(1)
            history.train_loss.append(loss_sum.item() / len(train_y))
            history.train_accuracy.append(correct.item() / len(train_y))
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
            if plot is not None:
                plot.update(history)
    finally:
        if bar is not None:
            bar.close()
        if plot is not None:
            plot.close()
    return history


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


def accuracy(predicted_labels, true_labels) -> float:
    """Fraction of predictions equal to the truth (arrays or tensors of class indices)."""
    predicted = np.asarray(predicted_labels.cpu() if torch.is_tensor(predicted_labels) else predicted_labels)
    true = np.asarray(true_labels.cpu() if torch.is_tensor(true_labels) else true_labels)
    if predicted.shape != true.shape:
        raise ValueError(f"shapes differ: predictions {predicted.shape}, labels {true.shape}")
    if predicted.size == 0:
        raise ValueError("no predictions to score")
    return float((predicted == true).mean())


def confusion_matrix(true_labels, predicted_labels, num_classes: int = 10) -> np.ndarray:
    """(C, C) counts: entry [t, p] is how many images of true class t were predicted as p."""
    true = np.asarray(true_labels.cpu() if torch.is_tensor(true_labels) else true_labels).astype(np.int64)
    predicted = np.asarray(predicted_labels.cpu() if torch.is_tensor(predicted_labels) else predicted_labels).astype(np.int64)
    if true.shape != predicted.shape:
        raise ValueError(f"shapes differ: labels {true.shape}, predictions {predicted.shape}")
    if true.size and (min(true.min(), predicted.min()) < 0 or max(true.max(), predicted.max()) >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}")
    return np.bincount(true * num_classes + predicted, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def count_parameters(model: nn.Module, *, trainable_only: bool = False) -> int:
    """Number of scalar weights and biases in ``model``."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad or not trainable_only)
