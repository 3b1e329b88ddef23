"""The models the notebooks hand on to later ones, and the recipes that trained them.

Each class is written on the page of the notebook that teaches it (``MLP`` in 03,
``CNN`` in 04, ``RowClassifier`` in 05), in a cell tagged ``export``;
``tests/test_exported_cells.py`` checks that the page and this file hold the
same code, so what a learner reads is what later notebooks and the service run::

    from course_utils import models, train
    torch.manual_seed(0)
    model = models.CNN().to(device)
    history = train.train_with_recipe(model, train_data, models.CNN_RECIPE)

Inputs are normalized images (N, 1, 28, 28) as from ``data.to_tensors``;
outputs are (N, 10) logits.
"""

from __future__ import annotations

import torch
from torch import nn

from course_utils import train
from course_utils.train import Recipe


class MLP(nn.Module):
    """Fully connected classifier: flatten, then (Linear, ReLU, Dropout) per hidden layer, then Linear to logits.

    Input: normalized images (N, 1, 28, 28) or (N, 784). Output: (N, 10) logits
    (raw scores; softmax turns them into probabilities). The defaults are notebook 03's final model.
    """

    def __init__(self, hidden_sizes=(1024,), *, dropout=0.2, num_inputs=784, num_classes=10):
        super().__init__()
        if not 0 <= dropout < 1:
            raise ValueError(f"dropout is a probability in [0, 1), got {dropout}")
        layers = [nn.Flatten()]
        width = num_inputs
        for hidden in hidden_sizes:
            layers += [nn.Linear(width, hidden), nn.ReLU()]
            if dropout > 0:
                layers.append(nn.Dropout(dropout))
            width = hidden
        layers.append(nn.Linear(width, num_classes))
        self.num_inputs = num_inputs
        self.layers = nn.Sequential(*layers)

    def forward(self, images):
        if images.dim() < 2 or images[0].numel() != self.num_inputs:
            raise ValueError(f"expected images (N, 1, 28, 28) or (N, {self.num_inputs}), got shape {tuple(images.shape)}")
        return self.layers(images)


class CNN(nn.Module):
    """INPUT → [[CONV → (BN) → RELU]*N → POOL]*M → [FC → RELU]*K → FC, for (N, 1, 28, 28) normalized digits.

    channels        output channels of each block's convolutions (M = len(channels) blocks)
    convs_per_block N, the 3×3 'same' convolutions per block, each followed by ReLU
    hidden_units    widths of the K hidden fully connected layers
    batch_norm      batch normalization after every convolution
    dropout         dropout before each fully connected layer (0: none)

    The defaults are notebook 04's final model. ``features`` (the convolutional
    part, one ``nn.Sequential`` per block) and ``classifier`` are separate, so
    the features can be frozen and reused (transfer learning).
    Output: (N, num_classes) logits.
    """

    def __init__(self, channels=(16, 32, 64), convs_per_block=1, hidden_units=(128,), *,
                 batch_norm=True, dropout=0.1, num_classes=10, image_size=28):
        super().__init__()
        if not channels or convs_per_block < 1:
            raise ValueError("need at least one block with at least one convolution")
        blocks, in_channels, size = [], 1, image_size
        for out_channels in channels:
            layers = []
            for _ in range(convs_per_block):
                layers.append(nn.Conv2d(in_channels, out_channels, 3, padding=1, bias=not batch_norm))
                if batch_norm:
                    layers.append(nn.BatchNorm2d(out_channels))
                layers.append(nn.ReLU())
                in_channels = out_channels
            layers.append(nn.MaxPool2d(2))
            size //= 2
            blocks.append(nn.Sequential(*layers))
        self.features = nn.Sequential(*blocks)
        head, width = [nn.Flatten()], in_channels * size * size
        for units in hidden_units:
            if dropout:
                head.append(nn.Dropout(dropout))
            head += [nn.Linear(width, units), nn.ReLU()]
            width = units
        if dropout:
            head.append(nn.Dropout(dropout))
        head.append(nn.Linear(width, num_classes))
        self.classifier = nn.Sequential(*head)

    def forward(self, images):
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"CNN expects images of shape (N, 1, 28, 28), got {tuple(images.shape)}; "
                             "use data.to_tensors(...) without flatten=True")
        return self.classifier(self.features(images))


def images_to_rows(images):
    """Images (N, 1, 28, 28) or (N, 28, 28) -> sequences (N, 28 time steps, 28 pixels): one row per step."""
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"expected images of shape (N, 1, 28, 28) or (N, 28, 28), got {tuple(images.shape)}")
    return images


class RowClassifier(nn.Module):
    """Reads an image row by row with a recurrent layer and classifies it from the last hidden state.

    cell "rnn" (vanilla tanh RNN) or "lstm" (notebook 05's final model, 128 units).
    Input (N, 1, 28, 28), output (N, 10) logits.
    """

    def __init__(self, cell="lstm", hidden_size=128, num_classes=10):
        super().__init__()
        layers = {"rnn": nn.RNN, "lstm": nn.LSTM}
        if cell not in layers:
            raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
        self.cell = cell
        self.recurrent = layers[cell](28, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, num_classes)

    def forward_all_steps(self, images):
        """Logits after each row: (N, 28, 10); entry [:, k-1] is the guess having read rows 1..k."""
        hidden_states, _ = self.recurrent(images_to_rows(images))
        return self.head(hidden_states)

    def forward(self, images):
        hidden_states, _ = self.recurrent(images_to_rows(images))
        return self.head(hidden_states[:, -1])


# The final recipes of notebooks 03, 04 and 05 (each notebook measures why).
MLP_RECIPE = Recipe(num_epochs=12, batch_size=128, learning_rate=2e-3, optimizer="adam", weight_decay=1e-4, max_shift=2)
CNN_RECIPE = Recipe(num_epochs=10, batch_size=64, learning_rate=3e-3, optimizer="adamw", weight_decay=1e-4, max_shift=2)
LSTM_RECIPE = Recipe(num_epochs=15, batch_size=128, learning_rate=8e-3, optimizer="adam", max_shift=2, max_grad_norm=1.0)


def trained(model: nn.Module, train_data, recipe: Recipe, *, seed: int = 0, **options):
    """Seed the weights, move ``model`` (a class or a zero-argument factory) to the data's device, train it.

    ``trained(models.CNN, train_data, models.CNN_RECIPE)`` is notebook 04's final CNN. Returns ``(model, history)``;
    ``options`` go to ``train.train_with_recipe`` (val_data, live_plot, progress, title).
    """
    torch.manual_seed(seed)
    built = model().to(train_data[0].device)
    return built, train.train_with_recipe(built, train_data, recipe, seed=seed, **options)
