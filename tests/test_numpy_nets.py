"""Tests for course_utils.numpy_nets and its exercise checks (notebook 02)."""

from __future__ import annotations

import math
import warnings

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402
import torch  # noqa: E402

from course_utils import checks, numpy_nets  # noqa: E402
from course_utils.checks.core import numerical_gradient, rel_error  # noqa: E402


# ----------------------------------------------------------------------------- activations

@pytest.mark.parametrize("name", list(numpy_nets.ACTIVATIONS))
def test_activation_derivatives_match_finite_differences(name):
    function, derivative = numpy_nets.get_activation(name)
    points = np.array([-4.0, -1.3, -0.2, 0.3, 1.7, 5.0])  # away from the kink at 0
    measured = (function(points + 1e-6) - function(points - 1e-6)) / 2e-6
    assert rel_error(derivative(points), measured) < 1e-6


def test_activation_values():
    assert numpy_nets.sigmoid(0.0) == pytest.approx(0.5)
    assert numpy_nets.tanh(0.0) == pytest.approx(0.0)
    np.testing.assert_allclose(numpy_nets.relu(np.array([-2.0, 3.0])), [0.0, 3.0])
    np.testing.assert_allclose(numpy_nets.prelu(np.array([-2.0, 3.0])), [-0.5, 3.0])
    np.testing.assert_allclose(numpy_nets.prelu_derivative(np.array([-2.0, 3.0]), slope=0.1), [0.1, 1.0])
    assert numpy_nets.sigmoid_derivative(0.0) == pytest.approx(0.25)


def test_sigmoid_is_stable_for_huge_inputs():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        values = numpy_nets.sigmoid(np.array([-1000.0, 1000.0]))
    np.testing.assert_allclose(values, [0.0, 1.0])


def test_activations_keep_float32():
    values = np.array([-1.0, 2.0], dtype=np.float32)
    for function, derivative in numpy_nets.ACTIVATIONS.values():
        assert function(values).dtype == np.float32
    assert numpy_nets.relu_derivative(values).dtype == np.float32


def test_unknown_activation_is_a_clear_error():
    with pytest.raises(ValueError, match="unknown activation"):
        numpy_nets.get_activation("swish")


def test_neuron_worked_example_and_batch():
    assert numpy_nets.neuron([1.0, 2.0, -1.0], [0.5, -0.25, 1.0], 0.1) == pytest.approx(0.28905, abs=1e-5)
    batch = numpy_nets.neuron(np.zeros((4, 3)), np.ones(3), 0.0, activation="tanh")
    assert batch.shape == (4,)


def test_neuron_shape_mismatch_is_a_clear_error():
    with pytest.raises(ValueError, match="do not match"):
        numpy_nets.neuron(np.ones(3), np.ones(2), 0.0)


# ----------------------------------------------------------------------------- softmax and losses

def test_softmax_rows_sum_to_one_and_match_naive_on_small_logits():
    logits = np.random.default_rng(0).normal(size=(4, 6))
    probabilities = numpy_nets.softmax(logits)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0)
    np.testing.assert_allclose(probabilities, numpy_nets.softmax_naive(logits))
    np.testing.assert_allclose(probabilities, torch.softmax(torch.tensor(logits), dim=1).numpy())


def test_softmax_handles_huge_logits_where_naive_overflows():
    huge = np.array([[1000.0, 999.0, 998.0]])
    assert np.all(np.isfinite(numpy_nets.softmax(huge)))
    with np.errstate(over="ignore", invalid="ignore"):
        assert np.all(np.isnan(numpy_nets.softmax_naive(huge)))


def test_cross_entropy_matches_torch_and_ln_c_for_uniform():
    rng = np.random.default_rng(1)
    logits, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    expected = torch.nn.functional.cross_entropy(torch.tensor(logits), torch.tensor(labels)).item()
    assert numpy_nets.cross_entropy(logits, labels) == pytest.approx(expected, rel=1e-12)
    assert numpy_nets.cross_entropy(np.zeros((3, 10)), np.array([0, 5, 9])) == pytest.approx(math.log(10))


def test_cross_entropy_gradient_matches_numerical_gradient():
    rng = np.random.default_rng(2)
    logits, labels = rng.normal(size=(5, 4)), rng.integers(0, 4, size=5)
    numeric = numerical_gradient(lambda a: numpy_nets.cross_entropy(a, labels), logits.copy())
    assert rel_error(numpy_nets.cross_entropy_gradient(logits, labels), numeric) < 1e-7


@pytest.mark.parametrize("labels, error", [
    (np.array([0, 1]), ValueError),          # wrong length
    (np.array([0, 1, 7]), ValueError),       # out of range
    (np.array([0.0, 1.0, 2.0]), TypeError),  # floats, not class indices
])
def test_bad_labels_are_clear_errors(labels, error):
    with pytest.raises(error):
        numpy_nets.cross_entropy(np.zeros((3, 4)), labels)


def test_logits_must_be_two_dimensional():
    with pytest.raises(ValueError, match=r"\(N, C\)"):
        numpy_nets.cross_entropy(np.zeros(4), np.array([1]))


def test_regression_losses():
    assert numpy_nets.squared_error([1.0, 3.0], [2.0, 1.0]) == pytest.approx(2.5)
    assert numpy_nets.l1_error([1.0, 3.0], [2.0, 1.0]) == pytest.approx(1.5)
    with pytest.raises(ValueError, match="same shape"):
        numpy_nets.squared_error([1.0], [1.0, 2.0])
    with pytest.raises(ValueError, match="same shape"):
        numpy_nets.l1_error([1.0], [1.0, 2.0])


def test_one_hot():
    np.testing.assert_array_equal(numpy_nets.one_hot(np.array([2, 0]), 3), [[0, 0, 1], [1, 0, 0]])


# ----------------------------------------------------------------------------- the two-layer net

def _small_net(seed=3):
    rng = np.random.default_rng(seed)
    params = numpy_nets.init_two_layer(5, 4, 3, rng)
    params["b1"] = rng.normal(size=4)
    params["b2"] = rng.normal(size=3)
    return params, rng.normal(size=(6, 5)), rng.integers(0, 3, size=6)


def test_two_layer_gradients_match_numerical_gradients():
    params, inputs, labels = _small_net()
    _, grads = numpy_nets.two_layer_loss_and_gradients(params, inputs, labels)
    for name in params:
        numeric = numerical_gradient(lambda _: numpy_nets.two_layer_loss_and_gradients(params, inputs, labels)[0], params[name])
        assert rel_error(grads[name], numeric) < 1e-7, name


def test_two_layer_shapes_and_errors():
    params, inputs, _ = _small_net()
    logits, (cached_inputs, hidden) = numpy_nets.two_layer_forward(inputs, params)
    assert logits.shape == (6, 3) and hidden.shape == (6, 4)
    with pytest.raises(ValueError, match=r"\(N, 5\)"):
        numpy_nets.two_layer_forward(np.ones((6, 4)), params)
    with pytest.raises(KeyError, match="init_two_layer"):
        numpy_nets.two_layer_forward(inputs, {"W1": params["W1"]})


def test_init_two_layer_dtype_and_output_scale():
    params = numpy_nets.init_two_layer(784, 64, 10, np.random.default_rng(0), output_scale=0.1, dtype=np.float32)
    assert all(value.dtype == np.float32 for value in params.values())
    assert params["W2"].std() == pytest.approx(0.1 * math.sqrt(2 / 74), rel=0.1)


def test_training_keeps_float32():
    params = numpy_nets.init_two_layer(4, 3, 2, np.random.default_rng(0), dtype=np.float32)
    inputs = np.random.default_rng(1).normal(size=(8, 4)).astype(np.float32)
    params, _ = numpy_nets.train_two_layer(params, inputs, np.array([0, 1] * 4), num_epochs=1, batch_size=4)
    assert all(value.dtype == np.float32 for value in params.values())


def test_tanh_layer_backward_matches_numerical_gradient():
    rng = np.random.default_rng(4)
    inputs, weights, bias = rng.normal(size=(3, 4)), rng.normal(size=(4, 2)), rng.normal(size=2)
    upstream = rng.normal(size=(3, 2))

    def loss():
        return float(np.sum(np.tanh(inputs @ weights + bias) * upstream))

    grad_inputs, grad_weights, grad_bias = numpy_nets.tanh_layer_backward(inputs, weights, bias, upstream)
    assert rel_error(grad_inputs, numerical_gradient(lambda _: loss(), inputs)) < 1e-7
    assert rel_error(grad_weights, numerical_gradient(lambda _: loss(), weights)) < 1e-7
    assert rel_error(grad_bias, numerical_gradient(lambda _: loss(), bias)) < 1e-7


def test_sgd_step_returns_new_arrays_and_checks_its_input():
    params = {"w": np.array([1.0, 2.0])}
    updated = numpy_nets.sgd_step(params, {"w": np.array([10.0, -10.0])}, 0.1)
    np.testing.assert_allclose(updated["w"], [0.0, 3.0])
    np.testing.assert_allclose(params["w"], [1.0, 2.0])
    with pytest.raises(KeyError, match="same arrays"):
        numpy_nets.sgd_step(params, {"v": np.zeros(2)}, 0.1)
    with pytest.raises(ValueError, match="gradient shape"):
        numpy_nets.sgd_step(params, {"w": np.zeros(3)}, 0.1)


def test_two_layer_net_solves_xor():
    inputs = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    labels = np.array([0, 1, 1, 0])
    params = numpy_nets.init_two_layer(2, 4, 2, np.random.default_rng(0))
    for _ in range(2000):
        _, grads = numpy_nets.two_layer_loss_and_gradients(params, inputs, labels)
        params = numpy_nets.sgd_step(params, grads, 0.5)
    np.testing.assert_array_equal(numpy_nets.two_layer_predict(inputs, params), labels)


# ----------------------------------------------------------------------------- initialisation and depth

@pytest.mark.parametrize("scheme, expected_std", [
    ("uniform", 0.05 / math.sqrt(3)),
    ("gaussian", 1.0),
    ("glorot_uniform", math.sqrt(2 / 600)),
    ("xavier", math.sqrt(2 / 600)),
    ("kaiming", math.sqrt(2 / 200)),
])
def test_init_weights_scale(scheme, expected_std):
    weights = numpy_nets.init_weights(200, 400, scheme, np.random.default_rng(0))
    assert weights.shape == (200, 400)
    assert weights.std() == pytest.approx(expected_std, rel=0.03)


def test_init_weights_bad_input():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="unknown initialisation"):
        numpy_nets.init_weights(3, 3, "orthogonal", rng)
    with pytest.raises(ValueError, match="positive"):
        numpy_nets.init_weights(0, 3, "xavier", rng)


def test_vanishing_gradient_sigmoid_versus_relu():
    sigmoid_sizes = numpy_nets.deep_net_gradient_norms("sigmoid", "xavier", depth=10)
    relu_sizes = numpy_nets.deep_net_gradient_norms("relu", "kaiming", depth=10)
    assert sigmoid_sizes.shape == relu_sizes.shape == (11,)
    assert sigmoid_sizes[0] / sigmoid_sizes[-1] < 1e-4
    assert relu_sizes[0] / relu_sizes[-1] > 1e-2


def test_deep_net_gradient_matches_numerical_gradient_on_first_layer():
    # rebuild the same small net and check the first layer's gradient size by finite differences
    depth, width, classes, examples = 3, 5, 4, 7
    sizes = numpy_nets.deep_net_gradient_norms("tanh", "xavier", depth=depth, width=width, num_classes=classes,
                                               num_examples=examples, seed=5)
    rng = np.random.default_rng(5)
    weights = [numpy_nets.init_weights(width, width, "xavier", rng) for _ in range(depth)]
    output_weight = numpy_nets.init_weights(width, classes, "xavier", rng)
    inputs, labels = rng.normal(size=(examples, width)), rng.integers(0, classes, size=examples)

    def loss(_):
        outputs, _ = numpy_nets.deep_net_forward(inputs, weights, "tanh")
        return numpy_nets.cross_entropy(outputs[-1] @ output_weight, labels)

    numeric = numerical_gradient(loss, weights[0])
    assert sizes[0] == pytest.approx(np.sqrt(np.mean(numeric ** 2)), rel=1e-6)


def test_activation_stds_kaiming_keeps_relu_alive_and_small_uniform_fades():
    kaiming = numpy_nets.activation_stds("relu", "kaiming", depth=10, width=128, num_examples=200)
    uniform = numpy_nets.activation_stds("relu", "uniform", depth=10, width=128, num_examples=200)
    assert 0.3 < kaiming[-1] / kaiming[0] < 3
    assert uniform[-1] / uniform[0] < 1e-4


def test_plot_decision_boundary_returns_axes():
    axis = numpy_nets.plot_decision_boundary(lambda points: (points[:, 0] > 0.5).astype(int),
                                             np.array([[0.0, 0.0], [1.0, 1.0]]), np.array([0, 1]), resolution=20)
    assert axis.get_title() == "Decision boundary"
    plt.close(axis.figure)


# ----------------------------------------------------------------------------- the playground widget

def test_playground_redraws_when_driven():
    box = numpy_nets.build_activation_playground("sigmoid", weight=1.0, bias=0.0)
    np.testing.assert_allclose(box.line.get_ydata(), numpy_nets.neuron_curve("sigmoid", 1.0, 0.0))
    box.weight_slider.value = 3.0
    box.bias_slider.value = -2.0
    np.testing.assert_allclose(box.line.get_ydata(), numpy_nets.sigmoid(3.0 * numpy_nets.PLAYGROUND_INPUTS - 2.0))
    box.activation_dropdown.value = "relu"
    np.testing.assert_allclose(box.line.get_ydata(), numpy_nets.relu(3.0 * numpy_nets.PLAYGROUND_INPUTS - 2.0))
    assert box.figure.axes[0].get_title() == "relu: y = g(3.0·x + -2.0)"
    plt.close(box.figure)


def test_playground_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation"):
        numpy_nets.build_activation_playground("swish")


# ----------------------------------------------------------------------------- the exercise checks

def _not_written(*args):
    raise NotImplementedError


def _returns_none(*args):
    return None


@pytest.mark.parametrize("check", [checks.check_softmax, checks.check_cross_entropy_gradient,
                                   checks.check_tanh_layer_backward, checks.check_sgd_step])
def test_checks_report_unfinished_stubs_without_raising(check, capsys):
    assert not check(_not_written)
    assert "not written yet" in capsys.readouterr().out
    assert not check(_returns_none)
    assert not check(42)


def test_check_softmax(capsys):
    assert checks.check_softmax(numpy_nets.softmax)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not checks.check_softmax(numpy_nets.softmax_naive)   # overflows on huge logits
    assert not checks.check_softmax(lambda logits: np.exp(logits))  # forgot to normalise
    assert not checks.check_softmax(lambda logits: numpy_nets.softmax(logits.T).T)  # normalised the wrong axis


def test_check_cross_entropy_gradient():
    assert checks.check_cross_entropy_gradient(numpy_nets.cross_entropy_gradient)
    assert not checks.check_cross_entropy_gradient(  # forgot to divide by N
        lambda a, y: numpy_nets.softmax(a) - numpy_nets.one_hot(y, a.shape[1]))
    assert not checks.check_cross_entropy_gradient(  # sign flipped
        lambda a, y: -numpy_nets.cross_entropy_gradient(a, y))


def test_check_tanh_layer_backward(capsys):
    assert checks.check_tanh_layer_backward(numpy_nets.tanh_layer_backward)

    def forgot_derivative(inputs, weights, bias, grad_outputs):
        return grad_outputs @ weights.T, inputs.T @ grad_outputs, grad_outputs.sum(axis=0)

    def bias_not_summed(inputs, weights, bias, grad_outputs):
        grad_inputs, grad_weights, _ = numpy_nets.tanh_layer_backward(inputs, weights, bias, grad_outputs)
        return grad_inputs, grad_weights, grad_outputs * (1 - np.tanh(inputs @ weights + bias) ** 2)

    assert not checks.check_tanh_layer_backward(forgot_derivative)
    capsys.readouterr()
    assert not checks.check_tanh_layer_backward(bias_not_summed)
    assert "grad_bias has shape" in capsys.readouterr().out
    assert not checks.check_tanh_layer_backward(lambda *args: numpy_nets.tanh_layer_backward(*args)[:2])


def test_check_sgd_step(capsys):
    assert checks.check_sgd_step(numpy_nets.sgd_step)
    assert not checks.check_sgd_step(lambda p, g, lr: {k: p[k] + lr * g[k] for k in p})  # uphill

    def in_place(params, grads, learning_rate):
        for name in params:
            params[name] -= learning_rate * grads[name]
        return params

    capsys.readouterr()
    assert not checks.check_sgd_step(in_place)
    assert "in place" in capsys.readouterr().out
    assert not checks.check_sgd_step(lambda p, g, lr: [p[k] - lr * g[k] for k in p])  # a list, not a dict
