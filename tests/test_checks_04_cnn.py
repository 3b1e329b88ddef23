"""The exercise checks of notebook 04 (CNN): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np

from course_utils import checks
from course_utils.checks import cnn as cnn_checks



def _not_written(*args):
    raise NotImplementedError


# ------------------------------------------------------------------ notebook 04: CNN

def _conv2d_padded(image, kernel):
    return cnn_checks._conv2d(np.pad(image, 1), kernel)


def test_check_conv2d(capsys):
    assert checks.check_conv2d(cnn_checks._conv2d)
    assert not checks.check_conv2d(lambda image, kernel: cnn_checks._conv2d(image, np.asarray(kernel)[::-1, ::-1]))  # flipped
    assert not checks.check_conv2d(_conv2d_padded)                                                # wrong output size
    assert not checks.check_conv2d(_not_written)
    assert "⏳" in capsys.readouterr().out


def test_check_conv2d_rejects_a_square_kernel_assumed(capsys):
    def square_kernel_assumed(image, kernel):  # uses kernel.shape[0] for both the height and the width
        size = kernel.shape[0]
        output = np.zeros((image.shape[0] - size + 1, image.shape[1] - size + 1))
        for row, column in np.ndindex(output.shape):
            output[row, column] = np.sum(image[row:row + size, column:column + size] * kernel)
        return output

    assert not checks.check_conv2d(square_kernel_assumed)
    assert "case 2" in capsys.readouterr().out   # the 5×7 image with a 3×2 kernel


def test_check_conv_output_size():
    assert checks.check_conv_output_size(cnn_checks._conv_output_size)
    assert not checks.check_conv_output_size(lambda n, k, s, p: (n + p - k) // s + 1)            # padding on one side only
    assert not checks.check_conv_output_size(lambda n, k, s, p: round((n + 2 * p - k) / s) + 1)  # rounds instead of floor
    assert not checks.check_conv_output_size(lambda n, k, s, p: (n + 2 * p - k) // s)           # off by one
    assert not checks.check_conv_output_size(_not_written)


def _max_pool_overlapping(feature_map):
    output = np.empty((feature_map.shape[0] - 1, feature_map.shape[1] - 1))
    for row, column in np.ndindex(output.shape):
        output[row, column] = feature_map[row:row + 2, column:column + 2].max()
    return output


def test_check_max_pool2d():
    assert checks.check_max_pool2d(cnn_checks._max_pool2d)
    assert not checks.check_max_pool2d(lambda fm: cnn_checks._max_pool2d(np.maximum(fm, 0)))  # running max started at 0
    assert not checks.check_max_pool2d(_max_pool_overlapping)                                 # stride 1: windows overlap
    assert not checks.check_max_pool2d(lambda fm: fm[::2, ::2])                               # keeps the top-left pixel
    assert not checks.check_max_pool2d(_not_written)


def test_check_fgsm_perturbation():
    assert checks.check_fgsm_perturbation(cnn_checks._fgsm_perturbation)
    assert not checks.check_fgsm_perturbation(lambda gradient, epsilon: epsilon * np.asarray(gradient))  # forgot the sign
    assert not checks.check_fgsm_perturbation(lambda gradient, epsilon: -epsilon * np.sign(gradient))    # wrong direction
    assert not checks.check_fgsm_perturbation(_not_written)
