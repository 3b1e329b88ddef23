"""Multi-layer perceptron on MNIST (notebook 03): the model, its training recipe and evaluation helpers.

The reference versions of what notebook 03 builds, so a learner who skips an
exercise can go on, and so later notebooks (and the benchmark) can reuse the
final model::

    from course_utils import data, mlp
    splits = data.load_mnist()
    train_data = data.to_tensors(splits.train_images, splits.train_labels, flatten=False)
    model, history = mlp.train_mlp(train_data)

Images everywhere are normalized float tensors (N, 1, 28, 28) or (N, 784), as
from ``course_utils.data.to_tensors``; labels are int64 tensors (N,) of 0..9.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from course_utils import data, train

NUM_CLASSES = 10
IMAGE_SIDE = 28
NUM_PIXELS = IMAGE_SIDE * IMAGE_SIDE

# The final recipe of notebook 03 (train_mlp uses exactly these).
HIDDEN_SIZES = (1024,)
DROPOUT = 0.2
NUM_EPOCHS = 12
BATCH_SIZE = 128
MAX_LEARNING_RATE = 2e-3
WEIGHT_DECAY = 1e-4
MAX_SHIFT_PIXELS = 2


def one_hot(labels, num_classes: int = NUM_CLASSES):
    """Labels (N,) of integers 0..num_classes-1 -> (N, num_classes) rows of 0s with one 1.

    A tensor in gives a float32 tensor out (on the same device); anything else
    gives a float64 numpy array.
    """
    is_tensor = torch.is_tensor(labels)
    values = labels.detach().cpu().numpy() if is_tensor else np.asarray(labels)
    if values.ndim != 1:
        raise ValueError(f"labels must be one-dimensional (N,), got shape {values.shape}")
    if values.size and not np.issubdtype(values.dtype, np.integer):
        raise ValueError(f"labels must be integers, got dtype {values.dtype}")
    if values.size and (values.min() < 0 or values.max() >= num_classes):
        raise ValueError(f"labels must lie in 0..{num_classes - 1}, got values from {values.min()} to {values.max()}")
    rows = np.zeros((len(values), num_classes), dtype=np.float64)
    rows[np.arange(len(values)), values.astype(np.int64)] = 1.0
    if is_tensor:
        return torch.as_tensor(rows, dtype=torch.float32, device=labels.device)
    return rows


def accuracy_from_scores(scores, labels) -> float:
    """Fraction (0..1) of rows of ``scores`` (N, C) whose largest entry is at the true label (N,)."""
    scores = scores.detach().cpu().numpy() if torch.is_tensor(scores) else np.asarray(scores)
    labels = labels.detach().cpu().numpy() if torch.is_tensor(labels) else np.asarray(labels)
    if scores.ndim != 2 or labels.shape != (len(scores),):
        raise ValueError(f"scores must be (N, C) and labels (N,), got {scores.shape} and {labels.shape}")
    if len(labels) == 0:
        raise ValueError("no rows to score")
    return float((scores.argmax(axis=1) == labels).mean())


def dense_parameter_count(layer_sizes, biases: bool = True) -> int:
    """Weights (and biases) of a chain of fully connected layers, e.g. (784, 256, 10).

    A layer from ``n_in`` to ``n_out`` units has ``n_in * n_out`` weights plus
    ``n_out`` biases. The slides' example, a 32x32 colour image into 100 hidden
    units into 3 classes without biases: ``dense_parameter_count((3 * 1024, 100, 3),
    biases=False)`` = 3 x 1024 x 100 + 100 x 3 = 307,500.
    """
    sizes = [int(size) for size in layer_sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"layer_sizes needs at least two positive sizes (inputs, outputs), got {tuple(layer_sizes)}")
    return sum(n_in * n_out + (n_out if biases else 0) for n_in, n_out in zip(sizes[:-1], sizes[1:]))


class MLP(nn.Module):
    """Fully connected classifier: flatten, then (Linear, ReLU, Dropout) per hidden layer, then Linear to logits.

    Input: normalized images (N, 1, 28, 28) or (N, 784). Output: (N, 10)
    logits (raw scores; softmax turns them into probabilities). The defaults
    (``hidden_sizes=None`` means ``HIDDEN_SIZES``) are notebook 03's final model.
    """

    def __init__(self, hidden_sizes=None, *, dropout: float = DROPOUT,
                 num_inputs: int = NUM_PIXELS, num_classes: int = NUM_CLASSES):
        super().__init__()
        hidden_sizes = HIDDEN_SIZES if hidden_sizes is None else tuple(hidden_sizes)
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout}")
        layers: list[nn.Module] = [nn.Flatten()]
        width = num_inputs
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.num_inputs = num_inputs
        self.layers = nn.Sequential(*layers)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.dim() < 2 or images[0].numel() != self.num_inputs:
            raise ValueError(f"expected images (N, 1, 28, 28) or (N, {self.num_inputs}), got shape {tuple(images.shape)}")
        return self.layers(images)


def train_mlp(train_data, *, val_data=None, seed: int = 0, live_plot: bool = False, progress: bool = False):
    """Build ``MLP()`` on the device of the training tensors and train it with notebook 03's final recipe.

    train_data, val_data: (images (N, 1, 28, 28) normalized float, labels (N,) int64),
    as from ``data.to_tensors(..., flatten=False)``. Recipe: Adam with weight
    decay, a one-cycle learning-rate schedule peaking at ``MAX_LEARNING_RATE``,
    mini-batches of ``BATCH_SIZE``, ``NUM_EPOCHS`` epochs, random shifts of up
    to ``MAX_SHIFT_PIXELS`` pixels as augmentation, dropout ``DROPOUT``.
    Returns ``(model, history)``; the model is left in evaluation mode.
    """
    if not (isinstance(train_data, (tuple, list)) and len(train_data) == 2 and all(torch.is_tensor(t) for t in train_data)):
        raise TypeError("train_data must be a pair (images, labels) of tensors, as from data.to_tensors(..., flatten=False)")
    images, labels = train_data
    torch.manual_seed(seed)
    model = MLP().to(images.device)
    optimizer = torch.optim.Adam(model.parameters(), lr=MAX_LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = len(data.Batches(images, labels, BATCH_SIZE))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LEARNING_RATE, epochs=NUM_EPOCHS,
                                                    steps_per_epoch=steps_per_epoch)
    history = train.fit(model, optimizer, nn.CrossEntropyLoss(), (images, labels), val_data=val_data,
                        num_epochs=NUM_EPOCHS, batch_size=BATCH_SIZE, seed=seed, scheduler=scheduler,
                        augment=data.RandomShift(MAX_SHIFT_PIXELS, seed=seed),
                        live_plot=live_plot, progress=progress, title="Final MLP (live)")
    model.eval()
    return model, history


def most_confused_pairs(matrix, count: int = 3) -> list[tuple[int, int, int]]:
    """The ``count`` largest off-diagonal entries of a confusion matrix as (true, predicted, times), largest first."""
    matrix = np.asarray(matrix)
    if matrix.ndim != 2 or matrix.shape[0] != matrix.shape[1]:
        raise ValueError(f"matrix must be square (C, C), got {matrix.shape}")
    off_diagonal = matrix.astype(np.int64).copy()
    np.fill_diagonal(off_diagonal, -1)
    order = np.argsort(-off_diagonal, axis=None, kind="stable")[:count]
    pairs = [(int(t), int(p), int(off_diagonal[t, p])) for t, p in zip(*np.unravel_index(order, matrix.shape))]
    return [pair for pair in pairs if pair[2] > 0]


def k_fold_indices(num_items: int, num_folds: int, seed: int = 0) -> list[tuple[np.ndarray, np.ndarray]]:
    """Shuffle 0..num_items-1 and cut it into ``num_folds`` near-equal folds.

    Returns one ``(train_index, val_index)`` pair per fold: each item is in
    exactly one validation fold, and in the training part of all the others.
    """
    if not isinstance(num_folds, (int, np.integer)) or num_folds < 2:
        raise ValueError(f"num_folds must be an integer >= 2, got {num_folds!r}")
    if num_items < num_folds:
        raise ValueError(f"cannot cut {num_items} items into {num_folds} folds")
    order = np.random.default_rng(seed).permutation(num_items)
    folds = np.array_split(order, num_folds)
    return [(np.concatenate(folds[:k] + folds[k + 1:]), folds[k]) for k in range(num_folds)]
