"""Plots the notebooks share. Every function returns the matplotlib Figure.

In Jupyter the figure is shown when the cell ends (or by ``LivePlot`` while
training); in tests it can be inspected and closed.
"""

from __future__ import annotations

import time
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np


def _as_numpy(array) -> np.ndarray:
    if hasattr(array, "detach"):
        array = array.detach().cpu().numpy()
    return np.asarray(array)


def image_grid(images, titles: Sequence[str] | None = None, *, ncols: int = 10, cmap: str = "gray_r", size: float = 1.2, suptitle: str | None = None):
    """Show images (N, H, W) or (N, 1, H, W) in a grid, each with an optional title.

    ``gray_r`` draws ink dark on white, like a digit on paper. Returns the Figure.
    """
    images = _as_numpy(images)
    if images.ndim == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.ndim != 3:
        raise ValueError(f"images must have shape (N, H, W) or (N, 1, H, W), got {images.shape}")
    if titles is not None and len(titles) != len(images):
        raise ValueError(f"{len(titles)} titles for {len(images)} images")
    count = len(images)
    ncols = max(1, min(ncols, count))
    nrows = max(1, -(-count // ncols))
    figure, axes = plt.subplots(nrows, ncols, figsize=(size * ncols, size * nrows * (1.25 if titles else 1)), squeeze=False)
    for index, axis in enumerate(axes.flat):
        axis.axis("off")
        if index < count:
            axis.imshow(images[index], cmap=cmap)
            if titles is not None:
                axis.set_title(titles[index], fontsize=8)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    return figure


def _draw_curves(loss_axis, accuracy_axis, history) -> None:
    epochs = np.arange(1, len(history.train_loss) + 1)
    loss_axis.plot(epochs, history.train_loss, "o-", label="training")
    accuracy_axis.plot(epochs, np.asarray(history.train_accuracy) * 100, "o-", label="training")
    if len(history.val_loss):
        loss_axis.plot(epochs[: len(history.val_loss)], history.val_loss, "s--", label="validation")
        accuracy_axis.plot(epochs[: len(history.val_accuracy)], np.asarray(history.val_accuracy) * 100, "s--", label="validation")
    loss_axis.set(xlabel="epoch", ylabel="loss (mean per image)", title="Loss")
    accuracy_axis.set(xlabel="epoch", ylabel="accuracy (%)", title="Accuracy")
    for axis in (loss_axis, accuracy_axis):
        axis.grid(alpha=0.3)
        if len(epochs):
            axis.legend()
            axis.set_xticks(epochs if len(epochs) <= 20 else epochs[:: max(1, len(epochs) // 10)])


def in_notebook() -> bool:
    """True inside a Jupyter kernel, where figures can be shown and updated."""
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class LivePlot:
    """Training curves that redraw while a model trains in Jupyter.

    Redrawing costs about a tenth of a second, more than an epoch of a small
    model, so the figure is redrawn at most once every ``min_interval``
    seconds (at most 5% of the training time by default), and once more by ``close`` so the final state is always shown.
    Outside a notebook (a script, a test) nothing is drawn until ``close``,
    which returns the final static Figure in both cases.
    """

    def __init__(self, title: str = "Training (live)", *, min_interval: float = 2.0):
        self.title = title
        self.min_interval = min_interval
        self.live = in_notebook()
        self.figure = None
        self.handle = None
        self._history = None
        self._drawn_epochs = -1
        self._last_draw = -float("inf")
        if self.live:
            from IPython.display import display

            self._new_figure()
            self.handle = display(self.figure, display_id=True)

    def _new_figure(self) -> None:
        self.figure, (self.loss_axis, self.accuracy_axis) = plt.subplots(1, 2, figsize=(10, 3.6), layout="constrained")

    def _draw(self) -> None:
        if self.figure is None:
            self._new_figure()
        self.loss_axis.clear()
        self.accuracy_axis.clear()
        _draw_curves(self.loss_axis, self.accuracy_axis, self._history)
        self.figure.suptitle(self.title)
        if self.handle is not None:
            self.handle.update(self.figure)
        self._drawn_epochs = len(self._history.train_loss)
        self._last_draw = time.perf_counter()

    def update(self, history) -> None:
        """Record the latest history; redraw if live and ``min_interval`` has passed since the last drawing."""
        self._history = history
        if self.live and time.perf_counter() - self._last_draw >= self.min_interval:
            self._draw()

    def close(self):
        """Draw the final state if it is not shown yet and stop updating. Returns the Figure."""
        if self._history is not None and self._drawn_epochs != len(self._history.train_loss):
            self._draw()
        if self.figure is None:
            self._new_figure()
        plt.close(self.figure)  # stop the inline backend from drawing it a second time
        return self.figure


def confusion_matrix(matrix, *, class_names: Sequence[str] | None = None, title: str = "Confusion matrix", normalize: bool = False):
    """Draw a confusion matrix (rows: true class, columns: predicted class).

    ``matrix`` is a (C, C) array of counts, as from
    ``course_utils.train.confusion_matrix``. With ``normalize=True`` each
    row is shown as percentages of that true class.
    """
    matrix = _as_numpy(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (C, C), got {matrix.shape}")
    size = matrix.shape[0]
    names = list(class_names) if class_names is not None else [str(index) for index in range(size)]
    shown = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1) * 100 if normalize else matrix
    figure, axis = plt.subplots(figsize=(0.55 * size + 2, 0.55 * size + 1.5))
    image = axis.imshow(shown, cmap="Blues")
    threshold = shown.max() / 2 if shown.size else 0
    for row in range(size):
        for column in range(size):
            text = f"{shown[row, column]:.0f}" if not normalize else f"{shown[row, column]:.1f}"
            axis.text(column, row, text, ha="center", va="center", fontsize=8,
                      color="white" if shown[row, column] > threshold else "black")
    axis.set(xticks=range(size), yticks=range(size), xticklabels=names, yticklabels=names,
             xlabel="predicted label", ylabel="true label", title=title)
    figure.colorbar(image, ax=axis, label="% of true class" if normalize else "count")
    figure.tight_layout()
    return figure
