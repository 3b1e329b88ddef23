"""Tests for course_utils.cnn and the checks of notebook 04."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn import functional as F

from course_utils import checks, cnn, data, train

SLIDE_IMAGE = np.array([[0.4, 0.9, 0.1], [0.7, 0.2, 0.6], [0.8, 0.3, 0.5]])
SLIDE_KERNEL = np.array([[5.7, 2.4], [3.1, 0.9]])


# --- convolution, output size, pooling -------------------------------------------------------------

def test_conv2d_slides_example_worked_by_hand():
    expected = np.array([[0.4 * 5.7 + 0.9 * 2.4 + 0.7 * 3.1 + 0.2 * 0.9, 6.53], [7.22, 3.96]])
    np.testing.assert_allclose(cnn.conv2d(SLIDE_IMAGE, SLIDE_KERNEL), expected, atol=1e-12)


@pytest.mark.parametrize("stride,padding", [(1, 0), (1, 1), (2, 0), (2, 1), (3, 2)])
def test_conv2d_matches_pytorch(stride, padding):
    rng = np.random.default_rng(0)
    image, kernel = rng.normal(size=(9, 11)), rng.normal(size=(3, 2))
    expected = F.conv2d(torch.tensor(image)[None, None], torch.tensor(kernel)[None, None], stride=stride, padding=padding)[0, 0]
    np.testing.assert_allclose(cnn.conv2d(image, kernel, stride=stride, padding=padding), expected.numpy(), atol=1e-12)


def test_conv2d_rejects_non_2d_input():
    with pytest.raises(ValueError, match="2-D"):
        cnn.conv2d(np.zeros((1, 3, 3)), SLIDE_KERNEL)
    with pytest.raises(ValueError, match="does not fit"):
        cnn.conv2d(np.zeros((2, 2)), np.ones((3, 3)))


@pytest.mark.parametrize("n,k,s,p", [(28, 3, 1, 0), (28, 3, 1, 1), (28, 5, 2, 0), (7, 3, 2, 1), (224, 11, 4, 2), (32, 5, 3, 0), (5, 5, 1, 0)])
def test_conv_output_size_matches_pytorch(n, k, s, p):
    layer = nn.Conv2d(1, 1, k, stride=s, padding=p)
    assert cnn.conv_output_size(n, k, s, p) == layer(torch.zeros(1, 1, n, n)).shape[-1]


def test_conv_output_size_rejects_bad_arguments():
    with pytest.raises(ValueError, match="does not fit"):
        cnn.conv_output_size(3, 5)
    with pytest.raises(ValueError, match="stride"):
        cnn.conv_output_size(28, 3, stride=0)
    with pytest.raises(TypeError, match="integer"):
        cnn.conv_output_size(28.0, 3)


@pytest.mark.parametrize("shape", [(4, 4), (5, 7), (28, 28)])
def test_max_pool2d_matches_pytorch(shape):
    feature_map = np.random.default_rng(1).normal(size=shape)
    expected = F.max_pool2d(torch.tensor(feature_map)[None, None], 2)[0, 0].numpy()
    np.testing.assert_array_equal(cnn.max_pool2d(feature_map), expected)


def test_max_pool2d_slides_example_and_bad_input():
    assert cnn.max_pool2d(np.array([[66, 2], [6, 32]])).tolist() == [[66.0]]
    with pytest.raises(ValueError, match="2-D"):
        cnn.max_pool2d(np.arange(4.0))


def test_relu_and_feature_map():
    np.testing.assert_array_equal(cnn.relu([-1.0, 0.0, 2.5]), [0.0, 0.0, 2.5])
    digit = np.random.default_rng(2).random((28, 28))
    np.testing.assert_allclose(cnn.feature_map(digit, cnn.KERNELS["identity"]), digit)
    assert np.all(cnn.feature_map(digit, cnn.KERNELS["all zeros"]) == 0)
    assert cnn.feature_map(digit, cnn.KERNELS["vertical edge"], apply_relu=True).min() >= 0
    with pytest.raises(ValueError, match="3×3"):
        cnn.feature_map(digit, np.ones((2, 2)))


# --- the kernel editor widget ---------------------------------------------------------------------------

def test_kernel_editor_recomputes_when_driven():
    digit = np.random.default_rng(3).random((28, 28))
    editor = cnn.kernel_editor(digit, start="identity")
    np.testing.assert_allclose(editor.last_map, digit)
    editor.cells[1][1].value = 2.0                         # typing a number recomputes the map
    np.testing.assert_allclose(editor.last_map, 2 * digit)
    editor.preset.value = "vertical edge"                  # a preset fills the grid, then recomputes once
    np.testing.assert_array_equal(editor.kernel(), cnn.KERNELS["vertical edge"])
    expected = cnn.conv2d(digit, cnn.KERNELS["vertical edge"], padding=1)
    np.testing.assert_allclose(editor.last_map, expected)
    editor.relu_box.value = True
    np.testing.assert_allclose(editor.last_map, np.maximum(expected, 0))


def test_kernel_editor_rejects_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset"):
        cnn.kernel_editor(np.zeros((5, 5)), start="sharpen")


# --- shifting digits --------------------------------------------------------------------------------

def _tiny_mnist(count=192):
    splits = data.load_mnist()
    return data.to_tensors(splits.train_images[:count], splits.train_labels[:count])


def test_train_cnn_runs_recipe_and_is_deterministic():
    tiny = _tiny_mnist()
    model, history = cnn.train_cnn(tiny, val_data=tiny, seed=0)
    assert isinstance(model, cnn.CNN) and len(history.train_loss) == cnn.NUM_EPOCHS
    assert history.train_loss[-1] < history.train_loss[0]
    again, _ = cnn.train_cnn(tiny, seed=0)
    for left, right in zip(model.parameters(), again.parameters()):
        assert torch.equal(left, right)


def test_train_cnn_rejects_flat_images():
    splits = data.load_mnist()
    flat = data.to_tensors(splits.train_images[:8], splits.train_labels[:8], flatten=True)
    with pytest.raises(ValueError, match="flatten"):
        cnn.train_cnn(flat)


def test_frozen_module_stays_fixed():
    block = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2))
    frozen = cnn.Frozen(block)
    frozen.train()
    assert not block.training and all(not parameter.requires_grad for parameter in block.parameters())
    before = block[1].running_mean.clone()
    frozen(torch.randn(4, 1, 5, 5) + 3)
    assert torch.equal(block[1].running_mean, before)


# --- adversarial examples -----------------------------------------------------------------------------

def test_fgsm_perturbation_numpy_and_torch():
    np.testing.assert_array_equal(cnn.fgsm_perturbation(np.array([0.3, -1e-6, 0.0]), 0.1), [0.1, -0.1, 0.0])
    assert torch.equal(cnn.fgsm_perturbation(torch.tensor([2.0, -3.0]), 0.5), torch.tensor([0.5, -0.5]))
    with pytest.raises(ValueError, match="non-negative"):
        cnn.fgsm_perturbation(np.ones(2), -0.1)


def test_fgsm_attack_stays_within_epsilon_and_raises_loss():
    torch.manual_seed(0)
    images, labels = _tiny_mnist(64)
    model = cnn.CNN()
    epsilon = 0.1
    adversarial = cnn.fgsm_attack(model, images, labels, epsilon)
    assert adversarial.shape == images.shape
    assert float((adversarial - images).abs().max()) <= epsilon / data.PIXEL_STD + 1e-5
    assert float(adversarial.min()) >= cnn.PIXEL_LOW - 1e-6 and float(adversarial.max()) <= cnn.PIXEL_HIGH + 1e-6
    loss_fn = nn.CrossEntropyLoss()
    clean_loss, _ = train.evaluate(model, images, labels, loss_fn=loss_fn)
    attacked_loss, _ = train.evaluate(model, adversarial, labels, loss_fn=loss_fn)
    assert attacked_loss > clean_loss
    assert torch.allclose(cnn.fgsm_attack(model, images, labels, 0.0), images, atol=1e-6)  # only float rounding at the clip


# --- the exercise checks: accept the reference, reject plausible mistakes -----------------------------

def _stub(*_args):
    raise NotImplementedError


def test_check_conv2d(capsys):
    assert checks.check_conv2d(lambda image, kernel: cnn.conv2d(image, kernel))
    flipped = lambda image, kernel: cnn.conv2d(image, np.asarray(kernel)[::-1, ::-1])  # true convolution
    assert not checks.check_conv2d(flipped)
    padded = lambda image, kernel: cnn.conv2d(image, kernel, padding=1)                # wrong output size
    assert not checks.check_conv2d(padded)
    assert not checks.check_conv2d(_stub)
    assert "⏳" in capsys.readouterr().out


def test_check_conv_output_size():
    assert checks.check_conv_output_size(cnn.conv_output_size)
    assert not checks.check_conv_output_size(lambda n, k, s, p: (n + p - k) // s + 1)          # padding on one side only
    assert not checks.check_conv_output_size(lambda n, k, s, p: round((n + 2 * p - k) / s) + 1)  # rounds instead of floor
    assert not checks.check_conv_output_size(_stub)


def test_check_max_pool2d():
    assert checks.check_max_pool2d(cnn.max_pool2d)
    assert not checks.check_max_pool2d(lambda fm: cnn.max_pool2d(np.maximum(fm, 0)))  # running max started at 0
    assert not checks.check_max_pool2d(lambda fm: cnn.max_pool2d(fm, stride=1))       # overlapping windows
    assert not checks.check_max_pool2d(_stub)


def test_check_fgsm_perturbation():
    assert checks.check_fgsm_perturbation(cnn.fgsm_perturbation)
    assert not checks.check_fgsm_perturbation(lambda gradient, epsilon: epsilon * np.asarray(gradient))  # forgot the sign
    assert not checks.check_fgsm_perturbation(lambda gradient, epsilon: -epsilon * np.sign(gradient))    # wrong direction
    assert not checks.check_fgsm_perturbation(_stub)
