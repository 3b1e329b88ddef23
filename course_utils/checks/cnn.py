"""Checks for notebook 04 (CNN on MNIST): convolution, output size, max pooling, the FGSM step."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Verdict, run_check

__all__ = ["check_conv2d", "check_conv_output_size", "check_max_pool2d", "check_fgsm_perturbation"]

# Reference answers.

def _conv_output_size(input_size, kernel_size, stride=1, padding=0):
    return (input_size + 2 * padding - kernel_size) // stride + 1


def _conv2d(image, kernel):
    kernel_height, kernel_width = kernel.shape
    output = np.zeros((image.shape[0] - kernel_height + 1, image.shape[1] - kernel_width + 1))
    for row, column in np.ndindex(output.shape):
        output[row, column] = np.sum(image[row:row + kernel_height, column:column + kernel_width] * kernel)
    return output


def _max_pool2d(feature_map):
    output = np.empty((feature_map.shape[0] // 2, feature_map.shape[1] // 2))
    for row, column in np.ndindex(output.shape):
        output[row, column] = feature_map[2 * row:2 * row + 2, 2 * column:2 * column + 2].max()
    return output


def _fgsm_perturbation(gradient, epsilon):
    return epsilon * np.sign(gradient)


VERTICAL_EDGE = np.array([[-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0], [-1.0, 0.0, 1.0]])


SLIDE_IMAGE = np.array([[0.4, 0.9, 0.1], [0.7, 0.2, 0.6], [0.8, 0.3, 0.5]])
SLIDE_KERNEL = np.array([[5.7, 2.4], [3.1, 0.9]])


def check_conv2d(conv2d) -> Verdict:
    """``conv2d(image, kernel)`` (H, W), (kH, kW) -> (H−kH+1, W−kW+1): stride 1, no padding, kernel not flipped."""
    rng = np.random.default_rng(4)
    wide_image, tall_kernel = rng.normal(size=(5, 7)), rng.normal(size=(3, 2))
    digit_like, edge_kernel = rng.random((10, 10)), VERTICAL_EDGE
    cases = [
        ((SLIDE_IMAGE, SLIDE_KERNEL), np.array([[6.79, 6.53], [7.22, 3.96]])),   # the slides misprint 7.22 as 7.67
        ((wide_image, tall_kernel), _conv2d(wide_image, tall_kernel)),   # not square: rows and columns kept apart
        ((digit_like, edge_kernel), _conv2d(digit_like, edge_kernel)),   # not symmetric: a flipped kernel fails
        ((wide_image, np.array([[2.0]])), 2.0 * wide_image),               # 1×1 kernel: just a scaling
    ]
    return run_check("conv2d", conv2d, cases, tolerance=1e-9, describe_inputs=False,
                     hint="Hint: output[r, c] = sum(image[r:r+kH, c:c+kW] * kernel); the output has "
                          "H−kH+1 rows and W−kW+1 columns; do not flip the kernel.")


def check_conv_output_size(conv_output_size) -> Verdict:
    """``conv_output_size(input_size, kernel_size, stride, padding)`` -> int, as PyTorch computes it."""
    arguments = [(28, 3, 1, 0), (28, 3, 1, 1), (28, 5, 2, 0), (7, 3, 2, 1), (224, 11, 4, 2), (32, 5, 3, 0), (5, 5, 1, 0)]
    cases = [(args, _conv_output_size(*args)) for args in arguments]
    return run_check("conv_output_size", conv_output_size, cases, tolerance=0,
                     hint="Hint: (input_size + 2·padding − kernel_size) // stride + 1; round down with //.")


def check_max_pool2d(max_pool2d) -> Verdict:
    """``max_pool2d(feature_map)`` (H, W) -> (H//2, W//2): the largest value of each 2×2 window, stride 2."""
    rng = np.random.default_rng(5)
    negative_map = -rng.random((4, 6)) - 1.0    # all negative: starting from 0 gives a wrong 0
    odd_map = rng.normal(size=(5, 7))           # odd sizes: the last row and column are dropped
    cases = [
        ((np.array([[66.0, 2.0], [6.0, 32.0]]),), np.array([[66.0]])),
        ((np.arange(16.0).reshape(4, 4),), np.array([[5.0, 7.0], [13.0, 15.0]])),
        ((negative_map,), _max_pool2d(negative_map)),
        ((odd_map,), _max_pool2d(odd_map)),
    ]
    return run_check("max_pool2d", max_pool2d, cases, tolerance=0, describe_inputs=False,
                     hint="Hint: output[r, c] = feature_map[2r:2r+2, 2c:2c+2].max(); the output has H//2 rows and W//2 columns.")


def check_fgsm_perturbation(fgsm_perturbation) -> Verdict:
    """``fgsm_perturbation(gradient, epsilon)`` -> epsilon·sign(gradient), same shape as gradient."""
    rng = np.random.default_rng(6)
    gradient = rng.normal(size=(2, 1, 4, 4)) * 1e-3   # tiny gradients: the step size must not depend on them
    gradient[0, 0, 0, 0] = 0.0
    cases = [
        ((np.array([0.5, -2.0, 0.0, 1e-9]), 0.1), np.array([0.1, -0.1, 0.0, 0.1])),
        ((gradient, 0.25), _fgsm_perturbation(gradient, 0.25)),
        ((gradient, 0.0), np.zeros_like(gradient)),
    ]
    return run_check("fgsm_perturbation", fgsm_perturbation, cases, tolerance=1e-12, describe_inputs=False,
                     hint="Hint: move every pixel by exactly epsilon in the direction of the gradient's sign: epsilon * np.sign(gradient).")
