"""Convolutional networks for notebook 04: the pieces by hand, the course's CNN and its recipe.

Reference versions of what the learner builds (so a learner who skips an
exercise can go on), the 3×3 kernel-editor widget, and the model other
notebooks reuse::

    from course_utils import cnn, data
    splits = data.load_mnist()
    train_data = data.to_tensors(splits.train_images, splits.train_labels, device)
    model, history = cnn.train_cnn(train_data)        # the final recipe of notebook 04

Shapes: numpy helpers work on one 2-D image (H, W); torch helpers on
batches of normalized images (N, 1, 28, 28) as from ``data.to_tensors``.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils import data, train
from course_utils.numpy_nets import relu  # notebook 02's ReLU, used on feature maps here

# ---------------------------------------------------------------------------
# Convolution, output size and pooling by hand (numpy, one channel)
# ---------------------------------------------------------------------------


def _as_2d_float(name: str, array) -> np.ndarray:
    array = np.asarray(array, dtype=np.float64)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array (height, width), got shape {array.shape}")
    return array


def conv_output_size(input_size: int, kernel_size: int, stride: int = 1, padding: int = 0) -> int:
    """Side length of a convolution's output: ``(input_size + 2·padding − kernel_size) // stride + 1``.

    All arguments are whole numbers of pixels. Raises ``ValueError`` when the
    kernel does not fit in the padded input or stride is not positive.
    """
    for name, value in (("input_size", input_size), ("kernel_size", kernel_size), ("stride", stride), ("padding", padding)):
        if not isinstance(value, (int, np.integer)) or isinstance(value, bool):
            raise TypeError(f"{name} must be an integer number of pixels, got {value!r}")
    if stride < 1 or kernel_size < 1 or padding < 0:
        raise ValueError(f"need kernel_size >= 1, stride >= 1 and padding >= 0, got {kernel_size}, {stride}, {padding}")
    if kernel_size > input_size + 2 * padding:
        raise ValueError(f"a {kernel_size}-pixel kernel does not fit in {input_size} pixels padded by {padding} on each side")
    return (input_size + 2 * padding - kernel_size) // stride + 1


def conv2d(image, kernel, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Slide ``kernel`` (kH, kW) over ``image`` (H, W): at each position, sum of elementwise products.

    This is cross-correlation (the kernel is not flipped), which is what deep-learning
    libraries call convolution. ``padding`` adds that many rows/columns of zeros
    on every side. Returns an (outH, outW) float array, sizes from ``conv_output_size``.
    """
    image, kernel = _as_2d_float("image", image), _as_2d_float("kernel", kernel)
    if padding:
        image = np.pad(image, padding)
    out_height = conv_output_size(image.shape[0], kernel.shape[0], stride)
    out_width = conv_output_size(image.shape[1], kernel.shape[1], stride)
    kernel_height, kernel_width = kernel.shape
    output = np.zeros((out_height, out_width))
    for row in range(out_height):
        for column in range(out_width):
            top, left = row * stride, column * stride
            patch = image[top : top + kernel_height, left : left + kernel_width]
            output[row, column] = np.sum(patch * kernel)
    return output


def max_pool2d(feature_map, size: int = 2, stride: int | None = None) -> np.ndarray:
    """Largest value of each ``size``×``size`` window of ``feature_map`` (H, W); stride defaults to size.

    Rows or columns left over at the edge (when H or W is not a multiple of the
    stride) are dropped, as in ``torch.nn.functional.max_pool2d``.
    """
    feature_map = _as_2d_float("feature_map", feature_map)
    stride = size if stride is None else stride
    out_height = conv_output_size(feature_map.shape[0], size, stride)
    out_width = conv_output_size(feature_map.shape[1], size, stride)
    output = np.empty((out_height, out_width))
    for row in range(out_height):
        for column in range(out_width):
            top, left = row * stride, column * stride
            output[row, column] = feature_map[top : top + size, left : left + size].max()
    return output


# ---------------------------------------------------------------------------
# Kernels to try on a digit, and the 3×3 kernel editor
# ---------------------------------------------------------------------------

KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "all zeros": np.zeros((3, 3)),
    "large (all 5)": np.full((3, 3), 5.0),
    "vertical edge": np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=float),
    "horizontal edge": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], dtype=float),
    "vertical line": np.array([[-1, 2, -1], [-1, 2, -1], [-1, 2, -1]], dtype=float),
    "horizontal line": np.array([[-1, -1, -1], [2, 2, 2], [-1, -1, -1]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "slides' [0 1 0] pattern": np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=float),
    "slides' [-1 1 0] pattern": np.array([[0, 0, 0], [-1, 1, 0], [0, 0, 0]], dtype=float),
}


def feature_map(image, kernel, *, apply_relu: bool = False) -> np.ndarray:
    """The kernel editor's callback: ``conv2d(image, kernel, padding=1)`` for a 3×3 kernel, optionally through ReLU.

    ``image`` (H, W) with pixels 0..1; the result has the same (H, W).
    """
    kernel = _as_2d_float("kernel", kernel)
    if kernel.shape != (3, 3):
        raise ValueError(f"the editor uses 3×3 kernels, got shape {kernel.shape}")
    result = conv2d(image, kernel, padding=1)
    return relu(result) if apply_relu else result


def kernel_editor(image, *, start: str = "vertical edge"):
    """A 3×3 grid of number boxes, a preset menu and a ReLU switch; shows the digit and its feature map.

    Returns an ``ipywidgets.VBox`` with extra attributes for driving it from code:
    ``cells`` (3×3 list of FloatText), ``preset`` (Dropdown), ``relu_box``
    (Checkbox), ``output`` (Output), ``kernel()`` (current 3×3 array) and
    ``last_map`` (the last computed feature map).
    """
    import ipywidgets as widgets
    import matplotlib.pyplot as plt
    from IPython.display import clear_output, display

    image = _as_2d_float("image", image)
    if start not in KERNELS:
        raise ValueError(f"unknown preset {start!r}; choose one of {', '.join(KERNELS)}")
    cells = [[widgets.FloatText(value=float(KERNELS[start][r, c]), step=0.5, layout=widgets.Layout(width="70px"))
              for c in range(3)] for r in range(3)]
    preset = widgets.Dropdown(options=list(KERNELS), value=start, description="preset")
    relu_box = widgets.Checkbox(value=False, description="ReLU on the feature map")
    output = widgets.Output()
    grid = widgets.GridBox([cell for row in cells for cell in row],
                           layout=widgets.Layout(grid_template_columns="repeat(3, 75px)"))
    box = widgets.VBox([widgets.HBox([widgets.VBox([widgets.Label("kernel (3×3)"), grid]), widgets.VBox([preset, relu_box])]), output])
    box.cells, box.preset, box.relu_box, box.output, box.last_map = cells, preset, relu_box, output, None
    box.kernel = lambda: np.array([[cell.value for cell in row] for row in cells], dtype=float)
    state = {"loading_preset": False}

    def redraw(_change=None):
        if state["loading_preset"]:
            return
        kernel = box.kernel()
        box.last_map = feature_map(image, kernel, apply_relu=relu_box.value)
        with output:
            clear_output(wait=True)
            fig, (left, right) = plt.subplots(1, 2, figsize=(7, 3.4))
            left.imshow(image, cmap="gray")
            left.set_title("input digit (pixels 0..1)")
            limit = max(float(np.abs(box.last_map).max()), 1e-9)
            shown = right.imshow(box.last_map, cmap="gray", vmin=0 if relu_box.value else -limit, vmax=limit)
            right.set_title("feature map" + (" after ReLU" if relu_box.value else "") + "\nblack = negative, white = positive")
            for axis in (left, right):
                axis.set(xlabel="column (pixel)", ylabel="row (pixel)")
            fig.colorbar(shown, ax=right, label="response")
            fig.tight_layout()
            display(fig)
            plt.close(fig)

    def load_preset(change):
        values = KERNELS[change["new"]]
        state["loading_preset"] = True
        try:
            for r in range(3):
                for c in range(3):
                    cells[r][c].value = float(values[r, c])
        finally:
            state["loading_preset"] = False
        redraw()

    for row in cells:
        for cell in row:
            cell.observe(redraw, names="value")
    relu_box.observe(redraw, names="value")
    preset.observe(load_preset, names="value")
    redraw()
    return box


# ---------------------------------------------------------------------------
# Shifting digits: test-time shifts and training-time augmentation
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# The course's CNN and its training recipe
# ---------------------------------------------------------------------------


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

    def __init__(self, channels=(16, 32, 64), convs_per_block: int = 2, hidden_units=(128,), *,
                 batch_norm: bool = True, dropout: float = 0.1, num_classes: int = 10, image_size: int = 28):
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

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4 or images.shape[1] != 1:
            raise ValueError(f"CNN expects images of shape (N, 1, 28, 28), got {tuple(images.shape)}; "
                             "use data.to_tensors(...) without flatten=True")
        return self.classifier(self.features(images))


# The final recipe of notebook 04 (the notebook explains each choice).
NUM_EPOCHS = 15
BATCH_SIZE = 64
MAX_LEARNING_RATE = 3e-3
WEIGHT_DECAY = 1e-4
MAX_SHIFT = 2


def train_cnn(train_data, *, val_data=None, seed: int = 0, live_plot: bool = False, progress: bool = False):
    """Build ``CNN()`` on the device of ``train_data`` and train it with notebook 04's final recipe.

    Recipe: AdamW (weight decay 1e-4) with a one-cycle learning-rate schedule
    peaking at 3e-3, batches of 64, 8 epochs, every training image shifted by
    a random 0–2 pixels. ``train_data`` (and ``val_data``) are (images
    (N, 1, 28, 28) normalized float, labels (N,) int64) as from
    ``data.to_tensors``. Returns ``(model, history)``.
    """
    images, _ = train._check_data("train_data", train_data)
    if images.ndim != 4 or images.shape[1:] != (1, 28, 28):
        raise ValueError(f"train_cnn needs images of shape (N, 1, 28, 28), got {tuple(images.shape)}; "
                         "call data.to_tensors without flatten=True")
    torch.manual_seed(seed)                                  # seed the weights
    model = CNN().to(images.device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=MAX_LEARNING_RATE, weight_decay=WEIGHT_DECAY)
    steps_per_epoch = (len(images) + BATCH_SIZE - 1) // BATCH_SIZE
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=MAX_LEARNING_RATE,
                                                    epochs=NUM_EPOCHS, steps_per_epoch=steps_per_epoch)
    history = train.fit(model, optimizer, nn.CrossEntropyLoss(), train_data, val_data=val_data,
                        num_epochs=NUM_EPOCHS, batch_size=BATCH_SIZE, seed=seed, scheduler=scheduler,
                        augment=data.RandomShift(MAX_SHIFT, seed=seed), live_plot=live_plot, progress=progress,
                        title="CNN training (live)")
    return model, history


# ---------------------------------------------------------------------------
# Transfer learning and adversarial examples
# ---------------------------------------------------------------------------


class Frozen(nn.Module):
    """Wrap a trained module so nothing in it changes: no gradients, and always in evaluation mode
    (batch-norm statistics stay as they were learned)."""

    def __init__(self, module: nn.Module):
        super().__init__()
        self.module = module
        for parameter in self.module.parameters():
            parameter.requires_grad_(False)
        self.module.eval()

    def train(self, mode: bool = True):
        super().train(mode)
        self.module.eval()
        return self

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        return self.module(inputs)


def fgsm_perturbation(gradient, epsilon: float):
    """The fast-gradient-sign step: ``epsilon · sign(gradient)``, same shape and type (numpy or torch) as gradient.

    Each pixel moves by exactly ±epsilon (0 where the gradient is exactly 0),
    in the direction that increases the loss.
    """
    if epsilon < 0:
        raise ValueError(f"epsilon must be non-negative, got {epsilon}")
    if torch.is_tensor(gradient):
        return epsilon * gradient.sign()
    return epsilon * np.sign(np.asarray(gradient, dtype=np.float64))


PIXEL_LOW = data.BACKGROUND                            # a 0 pixel, normalized
PIXEL_HIGH = (1.0 - data.PIXEL_MEAN) / data.PIXEL_STD  # a 1 pixel, normalized


def fgsm_attack(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, epsilon: float, *, batch_size: int = 1000) -> torch.Tensor:
    """Adversarial versions of normalized ``images`` (N, 1, 28, 28): each pixel moved by ±epsilon in pixel units.

    ``epsilon`` is a fraction of the 0..1 pixel range (0.1 = a tenth of black-to-white);
    on normalized images that is ``epsilon / PIXEL_STD``. Results are clipped to valid pixels.
    """
    was_training = model.training
    model.eval()
    step = epsilon / data.PIXEL_STD
    adversarial = []
    for start in range(0, len(images), batch_size):
        batch = images[start : start + batch_size].clone().requires_grad_(True)
        loss = F.cross_entropy(model(batch), labels[start : start + batch_size])
        (gradient,) = torch.autograd.grad(loss, batch)
        adversarial.append((batch + fgsm_perturbation(gradient, step)).clamp(PIXEL_LOW, PIXEL_HIGH).detach())
    model.train(was_training)
    return torch.cat(adversarial)
