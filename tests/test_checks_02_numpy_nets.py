"""The exercise checks of notebook 02 (networks in numpy): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np

from course_utils import checks
from course_utils.checks import numpy_nets as nn_checks


# ------------------------------------------------------------------ notebook 02: networks in numpy

def _softmax_naive(logits):
    exp = np.exp(logits)
    return exp / exp.sum(axis=1, keepdims=True)


def _one_hot_rows(labels, num_classes):
    return np.eye(num_classes)[labels]


def test_check_softmax():
    assert checks.check_softmax(nn_checks._softmax)
    with np.errstate(over="ignore", invalid="ignore"):
        assert not checks.check_softmax(_softmax_naive)                            # overflows on huge logits
    assert not checks.check_softmax(lambda logits: np.exp(logits))                 # forgot to normalise
    assert not checks.check_softmax(lambda logits: nn_checks._softmax(logits.T).T)  # normalised the wrong axis


def test_check_cross_entropy_gradient():
    assert checks.check_cross_entropy_gradient(nn_checks._cross_entropy_gradient)
    assert not checks.check_cross_entropy_gradient(   # forgot to divide by N
        lambda a, y: nn_checks._softmax(a) - _one_hot_rows(y, a.shape[1]))
    assert not checks.check_cross_entropy_gradient(   # sign flipped
        lambda a, y: -nn_checks._cross_entropy_gradient(a, y))


def test_check_tanh_layer_backward(capsys):
    assert checks.check_tanh_layer_backward(nn_checks._tanh_layer_backward)

    def forgot_derivative(inputs, weights, bias, grad_outputs):
        return grad_outputs @ weights.T, inputs.T @ grad_outputs, grad_outputs.sum(axis=0)

    def bias_not_summed(inputs, weights, bias, grad_outputs):
        grad_inputs, grad_weights, _ = nn_checks._tanh_layer_backward(inputs, weights, bias, grad_outputs)
        return grad_inputs, grad_weights, grad_outputs * (1 - np.tanh(inputs @ weights + bias) ** 2)

    assert not checks.check_tanh_layer_backward(forgot_derivative)
    capsys.readouterr()
    assert not checks.check_tanh_layer_backward(bias_not_summed)
    assert "grad_bias has shape" in capsys.readouterr().out
    assert not checks.check_tanh_layer_backward(lambda *args: nn_checks._tanh_layer_backward(*args)[:2])  # two of three


def test_check_sgd_step(capsys):
    assert checks.check_sgd_step(nn_checks._sgd_step)
    assert not checks.check_sgd_step(lambda p, g, lr: {k: p[k] + lr * g[k] for k in p})  # uphill

    def in_place(params, grads, learning_rate):
        for name in params:
            params[name] -= learning_rate * grads[name]
        return params

    capsys.readouterr()
    assert not checks.check_sgd_step(in_place)
    assert "in place" in capsys.readouterr().out
    assert not checks.check_sgd_step(lambda p, g, lr: [p[k] - lr * g[k] for k in p])  # a list, not a dict
