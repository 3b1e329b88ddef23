"""Checks for notebook 04 (CNN on MNIST): output size, convolution, max pooling and its backward, two attacks.

Each check names the common mistakes of its exercise (``Mistake``): a wrong answer that equals what
a function with that mistake returns gets the mistake's diagnosis instead of a bare "expected …, got …".
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from course_utils.checks.core import Mistake, Verdict, recognising, run_check

__all__ = ["check_conv_output_size", "check_conv2d", "check_max_pool2d", "check_max_pool2d_backward",
           "check_fgsm_attack", "check_targeted_attack"]

# --------------------------------------------------------------------------- reference answers


def _conv_output_size(input_size, kernel_size, stride=1, padding=0):
    return (input_size + 2 * padding - kernel_size) // stride + 1


def _conv2d(image, kernels, stride=1, padding=0):
    image, kernels = np.asarray(image, dtype=float), np.asarray(kernels, dtype=float)
    padded = np.pad(image, ((0, 0), (padding, padding), (padding, padding)))
    num_filters, _, kernel_height, kernel_width = kernels.shape
    height = (padded.shape[1] - kernel_height) // stride + 1
    width = (padded.shape[2] - kernel_width) // stride + 1
    output = np.zeros((num_filters, height, width))
    for filter_index, row, column in np.ndindex(output.shape):
        top, left = row * stride, column * stride
        patch = padded[:, top:top + kernel_height, left:left + kernel_width]
        output[filter_index, row, column] = np.sum(patch * kernels[filter_index])
    return output


def _windows(feature_map, size):
    """(H//size, W//size, size, size) view of the non-overlapping windows (leftover rows and columns dropped)."""
    height, width = feature_map.shape[0] // size, feature_map.shape[1] // size
    trimmed = feature_map[:height * size, :width * size]
    return trimmed.reshape(height, size, width, size).transpose(0, 2, 1, 3)


def _max_pool2d(feature_map, size=2):
    return _windows(np.asarray(feature_map, dtype=float), size).max(axis=(2, 3))


def _max_pool2d_backward(feature_map, upstream_gradient, size=2):
    feature_map = np.asarray(feature_map, dtype=float)
    gradient = np.zeros_like(feature_map)
    for row, column in np.ndindex(np.shape(upstream_gradient)):
        window = feature_map[row * size:(row + 1) * size, column * size:(column + 1) * size]
        down, right = np.unravel_index(np.argmax(window), window.shape)   # the first maximum in reading order
        gradient[row * size + down, column * size + right] += upstream_gradient[row][column]
    return gradient


def _fgsm_attack(model, images, labels, epsilon):
    images = images.clone().requires_grad_()
    loss = F.cross_entropy(model(images), labels)
    (gradient,) = torch.autograd.grad(loss, images)
    return (images + epsilon * gradient.sign()).clamp(0, 1).detach()


def _targeted_attack(model, images, target_labels, epsilon, num_steps):
    adversarial = images.clone()
    for _ in range(num_steps):
        adversarial.requires_grad_()
        loss = F.cross_entropy(model(adversarial), target_labels)
        (gradient,) = torch.autograd.grad(loss, adversarial)
        adversarial = (adversarial - epsilon / num_steps * gradient.sign()).clamp(0, 1).detach()
    return adversarial


# --------------------------------------------------------------------------- the output-size formula

_OUTPUT_SIZE_MISTAKES = (
    Mistake("not a whole number: a side has a whole number of pixels; a last position where the kernel would hang "
            "over the edge does not count, so round the number of jumps down",
            lambda input_size, kernel_size, stride, padding: (input_size + 2 * padding - kernel_size) / stride + 1),
    Mistake("the padding is counted on one side only: p zeros are added above and below (left and right), "
            "so the padded side is longer by two paddings",
            lambda input_size, kernel_size, stride, padding: (input_size + padding - kernel_size) // stride + 1),
    Mistake("one position short: you counted the jumps between positions, not the positions; the first "
            "position, before any jump, counts too",
            lambda input_size, kernel_size, stride, padding: (input_size + 2 * padding - kernel_size) // stride),
    Mistake("the stride is ignored: with stride s the kernel jumps s pixels, so there are about s times fewer positions",
            lambda input_size, kernel_size, stride, padding: input_size + 2 * padding - kernel_size + 1),
    Mistake("rounded to the nearest whole number: a last position where the kernel would stick out of the "
            "(padded) image does not count, so round the number of jumps down",
            lambda input_size, kernel_size, stride, padding: round((input_size + 2 * padding - kernel_size) / stride) + 1),
)


@recognising(*_OUTPUT_SIZE_MISTAKES)
def check_conv_output_size(conv_output_size) -> Verdict:
    """``conv_output_size(input_size, kernel_size, stride, padding)`` -> int side length, as PyTorch computes it."""
    arguments = [(3, 2, 1, 0), (28, 3, 1, 0), (28, 3, 1, 1), (28, 5, 2, 0), (7, 3, 2, 1), (224, 11, 4, 2),
                 (32, 5, 3, 0), (5, 5, 1, 0), (27, 3, 3, 1)]
    cases = [(args, _conv_output_size(*args)) for args in arguments]
    return run_check("conv_output_size", conv_output_size, cases, tolerance=0, mistakes=_OUTPUT_SIZE_MISTAKES,
                     start="Start with the length of one padded side, then ask how many kernel positions fit "
                           "along it when each position is `stride` pixels after the previous one.",
                     hint="Hint: try a tiny case on paper (a side of 5 pixels, a kernel of 3, stride 2, no padding): "
                          "list the first pixel of every position where the whole kernel fits, and count them.")


# --------------------------------------------------------------------------- multi-channel convolution

def _flipped_kernels(image, kernels, stride=1, padding=0):
    return _conv2d(image, np.asarray(kernels)[..., ::-1, ::-1], stride, padding)


def _one_side_padding(image, kernels, stride=1, padding=0):
    padded = np.pad(np.asarray(image, dtype=float), ((0, 0), (padding, 0), (padding, 0)))
    return _conv2d(padded, kernels, stride, 0)


_CONV2D_MISTAKES = (
    Mistake("the kernel is flipped: that is the mathematicians' convolution; deep-learning libraries slide the "
            "kernel unflipped (cross-correlation), so kernel[0, 0] meets the top-left pixel of each patch",
            _flipped_kernels),
    Mistake("the stride is ignored: the kernel must jump `stride` pixels between positions, in both directions, "
            "and the output is smaller accordingly",
            lambda image, kernels, stride=1, padding=0: _conv2d(image, kernels, 1, padding)),
    Mistake("the padding is added on one side only (top and left): add `padding` rows or columns of zeros on "
            "all four sides",
            _one_side_padding),
    Mistake("the padding is ignored: add `padding` rows and columns of zeros around every channel before sliding",
            lambda image, kernels, stride=1, padding=0: _conv2d(image, kernels, stride, 0)),
    Mistake("the output is one row and one column short (off by one): count the first position of the kernel too",
            lambda image, kernels, stride=1, padding=0: _conv2d(image, kernels, stride, padding)[:, :-1, :-1]),
    Mistake("only the first input channel is used: each output number sums the products over every input "
            "channel (the patch and the kernel are C × kH × kW)",
            lambda image, kernels, stride=1, padding=0: _conv2d(np.asarray(image)[:1], np.asarray(kernels)[:, :1],
                                                                 stride, padding)),
)

SLIDE_IMAGE = np.array([[0.4, 0.9, 0.1], [0.7, 0.2, 0.6], [0.8, 0.3, 0.5]])
SLIDE_KERNEL = np.array([[5.7, 2.4], [3.1, 0.9]])


def _torch_conv2d(image, kernels, stride=1, padding=0):
    """What ``torch.nn.functional.conv2d`` gives for one (C, H, W) image and (F, C, kH, kW) kernels, as numpy."""
    output = F.conv2d(torch.as_tensor(image, dtype=torch.float64)[None], torch.as_tensor(kernels, dtype=torch.float64),
                      stride=stride, padding=padding)
    return output[0].numpy()


def _conv2d_cases():
    rng = np.random.default_rng(4)
    arguments = [
        (SLIDE_IMAGE[None], SLIDE_KERNEL[None, None], 1, 0),                 # the slides' example: 7.22, not 7.67
        (rng.normal(size=(3, 5, 6)), rng.normal(size=(2, 3, 3, 3)), 1, 0),   # 3 channels in, 2 filters out
        (rng.normal(size=(2, 5, 5)), rng.normal(size=(2, 2, 3, 3)), 1, 1),   # 'same' padding
        (rng.normal(size=(2, 7, 6)), rng.normal(size=(3, 2, 3, 2)), 2, 1),   # stride 2, padding, a 3×2 kernel
        (rng.normal(size=(1, 8, 8)), rng.normal(size=(1, 1, 3, 3)), 3, 0),   # stride 3: the last columns are left over
    ]
    return [(args, _torch_conv2d(*args)) for args in arguments]


@recognising(*_CONV2D_MISTAKES)
def check_conv2d(conv2d) -> Verdict:
    """``conv2d(image, kernels, stride, padding)``: image (C, H, W), kernels (F, C, kH, kW) -> (F, H_out, W_out).

    Compared with ``torch.nn.functional.conv2d`` on five cases (relative error ≤ 1e-9).
    """
    return run_check("conv2d", conv2d, _conv2d_cases(), tolerance=1e-9, describe_inputs=False,
                     mistakes=_CONV2D_MISTAKES,
                     start="Start by padding the image with zeros, then make an output array of zeros of shape "
                           "(F, H_out, W_out) and fill it one filter and one position at a time.",
                     hint="Hint: print the shapes first (padded image, one patch, one kernel); then compare your "
                          "output[0, 0, 0] with the sum you get by hand for the top-left patch.")


# --------------------------------------------------------------------------- max pooling, forward

def _sliding_max(feature_map, size=2):
    feature_map = np.asarray(feature_map, dtype=float)
    output = np.empty((feature_map.shape[0] - size + 1, feature_map.shape[1] - size + 1))
    for row, column in np.ndindex(output.shape):
        output[row, column] = feature_map[row:row + size, column:column + size].max()
    return output


_MAX_POOL_MISTAKES = (
    Mistake("the windows overlap: the window moved one pixel at a time; it must jump by its own size, so that "
            "every number of the map falls in exactly one window",
            _sliding_max),
    Mistake("the largest value is never below 0: the running maximum started at 0, but a window of negative "
            "numbers has a negative maximum; start from the window's own values",
            lambda feature_map, size=2: np.maximum(_max_pool2d(feature_map, size), 0.0)),
    Mistake("that is the mean of each window (average pooling); max pooling keeps the largest value",
            lambda feature_map, size=2: _windows(np.asarray(feature_map, dtype=float), size).mean(axis=(2, 3))),
    Mistake("the window size is ignored: the windows are always 2×2; use `size` for the window and for the jump",
            lambda feature_map, size=2: _max_pool2d(feature_map, 2)),
)


@recognising(*_MAX_POOL_MISTAKES)
def check_max_pool2d(max_pool2d) -> Verdict:
    """``max_pool2d(feature_map, size)`` (H, W) -> (H//size, W//size): the largest value of each size × size window."""
    rng = np.random.default_rng(5)
    negative_map = -rng.random((4, 6)) - 1.0    # all negative: a running maximum started at 0 gives 0
    odd_map = rng.normal(size=(5, 7))           # odd sizes: the last row and column are dropped
    wide_map = rng.normal(size=(6, 9))          # 3×3 windows
    cases = [
        ((np.array([[66.0, 2.0], [6.0, 32.0]]), 2), np.array([[66.0]])),
        ((np.arange(16.0).reshape(4, 4), 2), np.array([[5.0, 7.0], [13.0, 15.0]])),
        ((negative_map, 2), _max_pool2d(negative_map)),
        ((odd_map, 2), _max_pool2d(odd_map)),
        ((wide_map, 3), _max_pool2d(wide_map, 3)),
    ]
    return run_check("max_pool2d", max_pool2d, cases, tolerance=0, describe_inputs=False, mistakes=_MAX_POOL_MISTAKES,
                     start="Start with the output's shape: how many whole windows of size × size fit down and "
                           "across? Make an array of that shape, then fill it window by window.",
                     hint="Hint: for the window in output row r and column c, write down on paper which rows and "
                          "columns of the feature map it covers when size is 2, then when size is 3.")


# --------------------------------------------------------------------------- max pooling, backward

def _copied_to_window(feature_map, upstream_gradient, size=2):
    gradient = np.zeros(np.shape(feature_map))
    rows, columns = np.shape(upstream_gradient)
    gradient[:rows * size, :columns * size] = np.kron(np.asarray(upstream_gradient, dtype=float), np.ones((size, size)))
    return gradient


def _to_top_left(feature_map, upstream_gradient, size=2):
    gradient = np.zeros(np.shape(feature_map))
    rows, columns = np.shape(upstream_gradient)
    gradient[:rows * size:size, :columns * size:size] = upstream_gradient
    return gradient


def _to_every_maximum(feature_map, upstream_gradient, size=2):
    feature_map = np.asarray(feature_map, dtype=float)
    largest = np.kron(_max_pool2d(feature_map, size), np.ones((size, size)))
    rows, columns = largest.shape
    winners = np.zeros(feature_map.shape, dtype=bool)
    winners[:rows, :columns] = feature_map[:rows, :columns] == largest
    return np.where(winners, _copied_to_window(feature_map, upstream_gradient, size), 0.0)


_MAX_POOL_BACKWARD_MISTAKES = (
    Mistake("the gradient is copied to every position of the window: only the maximum reached the output, so "
            "only it gets the upstream gradient; the others get 0",
            _copied_to_window),
    Mistake("the gradient is shared equally over the window: that is the backward pass of average pooling; "
            "max pooling sends all of it to the position of the maximum",
            lambda feature_map, upstream_gradient, size=2: _copied_to_window(feature_map, upstream_gradient, size)
            / size ** 2),
    Mistake("the gradient always goes to the top-left corner of the window: it must go to wherever the window's "
            "maximum is",
            _to_top_left),
    Mistake("on a tie every maximum got the gradient: the forward pass passed on one value, so exactly one "
            "position gets it, the first maximum in reading order (as PyTorch does)",
            _to_every_maximum),
    Mistake("the gradient has the shape of the pooled part only: it must have the feature map's full shape, with "
            "0 in the rows and columns that pooling dropped",
            lambda feature_map, upstream_gradient, size=2: _max_pool2d_backward(feature_map, upstream_gradient, size)[
                :np.shape(upstream_gradient)[0] * size, :np.shape(upstream_gradient)[1] * size]),
)


def _torch_max_pool_backward(feature_map, upstream_gradient, size=2):
    """The gradient autograd finds for ``F.max_pool2d`` (window and stride ``size``), as numpy."""
    pixels = torch.tensor(feature_map, dtype=torch.float64).reshape(1, 1, *np.shape(feature_map)).requires_grad_()
    pooled = F.max_pool2d(pixels, kernel_size=size)
    pooled.backward(torch.tensor(upstream_gradient, dtype=torch.float64).reshape(pooled.shape))
    return pixels.grad[0, 0].numpy()


@recognising(*_MAX_POOL_BACKWARD_MISTAKES)
def check_max_pool2d_backward(max_pool2d_backward) -> Verdict:
    """``max_pool2d_backward(feature_map, upstream_gradient, size)`` -> (H, W) gradient with respect to the map.

    Compared with what PyTorch's autograd gives for ``F.max_pool2d`` (tolerance 1e-12).
    """
    rng = np.random.default_rng(7)
    relu_map = np.maximum(rng.normal(size=(4, 4)), 0.0)
    relu_map[:2, :2] = 0.0                       # a window of zeros: a four-way tie
    arguments = [
        (np.array([[1.0, 5.0], [3.0, 2.0]]), np.array([[10.0]]), 2),
        (rng.normal(size=(4, 6)), rng.normal(size=(2, 3)), 2),
        (rng.normal(size=(5, 7)), rng.normal(size=(2, 3)), 2),     # odd sizes: the last row and column get 0
        (relu_map, rng.normal(size=(2, 2)), 2),
        (rng.normal(size=(6, 6)), rng.normal(size=(2, 2)), 3),
    ]
    return run_check("max_pool2d_backward", max_pool2d_backward,
                     [(args, _torch_max_pool_backward(*args)) for args in arguments],
                     mistakes=_MAX_POOL_BACKWARD_MISTAKES, tolerance=1e-12, describe_inputs=False,
                     start="Start from an array of zeros shaped like feature_map; then, window by window, decide "
                           "which single position should receive that window's upstream gradient.",
                     hint="Hint: the output of a window changes only if its largest input changes; nudge each input "
                          "of a 2×2 window on paper and see which nudges move the pooled value.")


# --------------------------------------------------------------------------- the two attacks

def _attack_model() -> nn.Module:
    """A small fixed network on (N, 1, 4, 4) pixel images in 0..1, in float64, for checking the attacks."""
    generator = torch.Generator().manual_seed(8)
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 12), nn.Tanh(), nn.Linear(12, 3)).double()
    with torch.no_grad():
        for parameter in model.parameters():
            parameter.copy_(torch.randn(parameter.shape, generator=generator, dtype=torch.float64))
    return model.eval()


def _attack_images(count, seed):
    generator = torch.Generator().manual_seed(seed)
    images = torch.rand(count, 1, 4, 4, generator=generator, dtype=torch.float64)
    images[images < 0.2] = 0.0                # blank paper and full ink: the clamp has work to do
    images[images > 0.85] = 1.0
    return images


_FGSM_MISTAKES = (
    Mistake("the step goes down the loss: that makes the true label more likely; to make the prediction worse, "
            "move each pixel the way that increases the loss",
            lambda model, images, labels, epsilon: _targeted_attack(model, images, labels, epsilon, 1)),
    Mistake("the pixels are not clamped: some end up below 0 or above 1, which no image can have; clamp the "
            "result to the valid pixel range",
            lambda model, images, labels, epsilon: _fgsm_unclamped(model, images, labels, epsilon)),
    Mistake("the step is ε times the gradient itself: FGSM moves every pixel by exactly ε, keeping only the "
            "direction (the sign) of its gradient",
            lambda model, images, labels, epsilon: _fgsm_raw_gradient(model, images, labels, epsilon)),
)


def _pixel_gradient(model, images, labels):
    images = images.clone().requires_grad_()
    (gradient,) = torch.autograd.grad(F.cross_entropy(model(images), labels), images)
    return gradient


def _fgsm_unclamped(model, images, labels, epsilon):
    return (images + epsilon * _pixel_gradient(model, images, labels).sign()).detach()


def _fgsm_raw_gradient(model, images, labels, epsilon):
    return (images + epsilon * _pixel_gradient(model, images, labels)).clamp(0, 1).detach()


def _attack_cases(make_args):
    model = _attack_model()
    return [make_args(model, _attack_images(count, seed), seed) for count, seed in [(1, 10), (6, 11), (20, 12)]]


@recognising(*_FGSM_MISTAKES)
def check_fgsm_attack(fgsm_attack) -> Verdict:
    """``fgsm_attack(model, images, labels, epsilon)``: images (N, 1, H, W) pixels 0..1 -> adversarial images, same shape.

    Checked on a small fixed network with float64 images (relative error ≤ 1e-9).
    """
    def make_case(model, images, seed):
        labels = torch.arange(len(images)) % 3
        epsilon = [0.1, 0.25, 0.05][seed % 3]
        return (model, images, labels, epsilon), _fgsm_attack(model, images, labels, epsilon)

    return run_check("fgsm_attack", fgsm_attack, _attack_cases(make_case), tolerance=1e-9, describe_inputs=False,
                     mistakes=_FGSM_MISTAKES,
                     start="Start with a copy of the images that records gradients, and the loss of the model's "
                           "scores on it against the true labels.",
                     hint="Hint: after the step, every pixel should differ from the original by ε or 0 (before "
                          "clamping); print (adversarial - images).abs().unique() to see what yours does.")


def _targeted_up(model, images, target_labels, epsilon, num_steps):
    adversarial = images.clone()
    for _ in range(num_steps):
        gradient = _pixel_gradient(model, adversarial, target_labels)
        adversarial = (adversarial + epsilon / num_steps * gradient.sign()).clamp(0, 1).detach()
    return adversarial


def _targeted_once(model, images, target_labels, epsilon, num_steps):
    return _targeted_attack(model, images, target_labels, epsilon, 1)


def _targeted_full_steps(model, images, target_labels, epsilon, num_steps):
    return _targeted_attack(model, images, target_labels, epsilon * num_steps, num_steps)


def _targeted_unclamped(model, images, target_labels, epsilon, num_steps):
    adversarial = images.clone()
    for _ in range(num_steps):
        gradient = _pixel_gradient(model, adversarial, target_labels)
        adversarial = (adversarial - epsilon / num_steps * gradient.sign()).detach()
    return adversarial


_TARGETED_MISTAKES = (
    Mistake("each step climbs the loss of the target class: that pushes the images away from the target; step "
            "the other way, down the target's loss",
            _targeted_up),
    Mistake("one step of ε was taken (or the gradient was computed only once): take num_steps small steps, "
            "recomputing the gradient from the current images before each",
            _targeted_once),
    Mistake("each step moves the pixels by ε: after num_steps steps they may have moved by num_steps × ε; split "
            "ε into num_steps equal steps",
            _targeted_full_steps),
    Mistake("the pixels are not clamped after each step: some leave the range 0..1, which no image can have",
            _targeted_unclamped),
)


@recognising(*_TARGETED_MISTAKES)
def check_targeted_attack(targeted_attack) -> Verdict:
    """``targeted_attack(model, images, target_labels, epsilon, num_steps)`` -> adversarial images, same shape.

    Checked on a small fixed network with float64 images (relative error ≤ 1e-9).
    """
    def make_case(model, images, seed):
        targets = (torch.arange(len(images)) + 1) % 3
        epsilon, num_steps = [(0.2, 4), (0.3, 5), (0.1, 2)][seed % 3]
        return (model, images, targets, epsilon, num_steps), _targeted_attack(model, images, targets, epsilon, num_steps)

    return run_check("targeted_attack", targeted_attack, _attack_cases(make_case), tolerance=1e-9,
                     describe_inputs=False, mistakes=_TARGETED_MISTAKES,
                     start="Start with a copy of the images and a loop of num_steps rounds; in each round you need "
                           "the loss of the scores against the target labels and its gradient with respect to "
                           "the current images.",
                     hint="Hint: after the attack the model's probability of the target class should have risen; "
                          "check that on the images you return, and check that no pixel moved by more than ε.")
