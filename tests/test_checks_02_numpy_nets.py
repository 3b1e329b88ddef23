"""The exercise checks of notebook 02 (networks in numpy): each accepts a correct answer, names each of its
mistakes, rejects other wrong answers with its hint, and says what to start with while the stub is unwritten."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import numpy_nets as nn_checks

CHECK_NAMES = ["check_two_layer_forward", "check_softmax", "check_numerical_gradient",
               "check_cross_entropy_gradient", "check_two_layer_backward", "check_sgd_step"]


def _not_written(*args):
    raise NotImplementedError


def _verdict_and_line(check, function, capsys):
    verdict = check(function)
    return verdict, capsys.readouterr().out.strip()


def test_the_module_exports_the_six_checks_of_notebook_02():
    assert sorted(nn_checks.__all__) == sorted(CHECK_NAMES)


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_each_check_names_every_one_of_its_mistakes(name, capsys):
    check = getattr(checks, name)
    assert len(check.mistakes) >= 2
    for mistake in check.mistakes:
        verdict, line = _verdict_and_line(check, mistake.wrong, capsys)
        assert not verdict and line.startswith("❌") and mistake.diagnosis in line, (mistake.diagnosis, line)


@pytest.mark.parametrize("name", CHECK_NAMES)
def test_each_check_says_what_to_start_with(name, capsys):
    verdict, line = _verdict_and_line(getattr(checks, name), _not_written, capsys)
    assert not verdict and line.startswith("⏳") and len(line.split("NotImplementedError).")[1].strip()) > 20


# ------------------------------------------------------------------ the forward pass

def _forward_written_by_a_learner(params, inputs):
    pre_activation = np.dot(inputs, params["W1"]) + params["b1"]
    hidden = np.tanh(pre_activation)
    return np.dot(hidden, params["W2"]) + params["b2"], hidden


def test_check_two_layer_forward(capsys):
    assert checks.check_two_layer_forward(nn_checks._two_layer_forward)
    assert checks.check_two_layer_forward(_forward_written_by_a_learner)
    capsys.readouterr()

    def sigmoid_hidden_layer(params, inputs):
        hidden = 1 / (1 + np.exp(-(inputs @ params["W1"] + params["b1"])))
        return hidden @ params["W2"] + params["b2"], hidden

    verdict, line = _verdict_and_line(checks.check_two_layer_forward, sigmoid_hidden_layer, capsys)
    assert not verdict and "which of the two layers has an activation" in line   # no named mistake: the hint
    verdict, line = _verdict_and_line(checks.check_two_layer_forward,
                                      lambda params, inputs: _forward_written_by_a_learner(params, inputs)[::-1], capsys)
    assert not verdict and "logits has shape" in line                             # the pair in the wrong order
    verdict, line = _verdict_and_line(checks.check_two_layer_forward,
                                      lambda params, inputs: _forward_written_by_a_learner(params, inputs)[0], capsys)
    assert not verdict and "return the pair (logits, hidden)" in line            # only the logits


# ------------------------------------------------------------------ softmax

def test_check_softmax(capsys):
    assert checks.check_softmax(nn_checks._softmax)

    def shift_by_each_row_maximum(logits):
        shifted = logits - np.max(logits, axis=1)[:, None]
        return np.exp(shifted) / np.exp(shifted).sum(axis=1)[:, None]

    assert checks.check_softmax(shift_by_each_row_maximum)
    capsys.readouterr()
    verdict, line = _verdict_and_line(checks.check_softmax, lambda logits: nn_checks._softmax(2 * logits), capsys)
    assert not verdict and "expected" in line and "its own total" in line        # a wrong answer no mistake explains


def test_check_softmax_names_the_overflow_even_though_numpy_warns(capsys):
    def overflowing(logits):
        with np.errstate(over="ignore", invalid="ignore"):
            return np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)

    verdict, line = _verdict_and_line(checks.check_softmax, overflowing, capsys)
    assert not verdict and "overflowed" in line


# ------------------------------------------------------------------ numerical gradient

def _numerical_gradient_written_by_a_learner(f, x, h=1e-5):
    gradient = np.zeros(x.shape)
    iterator = np.nditer(x, flags=["multi_index"])
    for _ in iterator:
        index = iterator.multi_index
        saved = x[index].copy()
        x[index] = saved + h
        f_plus = f(x)
        x[index] = saved - h
        f_minus = f(x)
        x[index] = saved
        gradient[index] = (f_plus - f_minus) / (2 * h)
    return gradient


def test_check_numerical_gradient(capsys):
    assert checks.check_numerical_gradient(nn_checks._numerical_gradient)
    assert checks.check_numerical_gradient(_numerical_gradient_written_by_a_learner)
    capsys.readouterr()

    def first_axis_only(f, x, h=1e-5):   # nudges whole rows of copies: right for a vector, wrong for a matrix
        gradient = np.zeros_like(x)
        for row in range(len(x)):
            above, below = x.copy(), x.copy()
            above[row] += h
            below[row] -= h
            gradient[row] = (f(above) - f(below)) / (2 * h)
        return gradient

    verdict, line = _verdict_and_line(checks.check_numerical_gradient, first_axis_only, capsys)
    assert not verdict and "case 2 of 3" in line and "distance between them" in line


def test_the_numerical_gradient_check_hands_over_an_f_that_reads_the_array_it_is_given_as_x():
    seen = []

    def records_identity(f, x, h=1e-5):
        seen.append(getattr(f, "array", None) is x)
        return nn_checks._numerical_gradient(f, x, h)

    assert checks.check_numerical_gradient(records_identity)
    assert seen == [False, False, True]


# ------------------------------------------------------------------ cross-entropy gradient

def test_check_cross_entropy_gradient(capsys):
    assert checks.check_cross_entropy_gradient(nn_checks._cross_entropy_gradient)
    capsys.readouterr()
    verdict, line = _verdict_and_line(   # subtracts 1 from every column instead of the correct class's
        checks.check_cross_entropy_gradient, lambda a, y: (nn_checks._softmax(a) - 1.0) / len(a), capsys)
    assert not verdict and "mean over the rows" in line


# ------------------------------------------------------------------ the backward pass

def _backward_written_by_a_learner(params, inputs, labels, logits, hidden):
    grad_logits = nn_checks._cross_entropy_gradient(logits, labels)
    grads = {"W2": hidden.T @ grad_logits, "b2": np.sum(grad_logits, axis=0)}
    grad_hidden = grad_logits @ params["W2"].T
    grad_pre_activation = grad_hidden * (1 - np.tanh(inputs @ params["W1"] + params["b1"]) ** 2)
    grads["W1"] = inputs.T @ grad_pre_activation
    grads["b1"] = np.sum(grad_pre_activation, axis=0)
    return grads


def test_check_two_layer_backward(capsys):
    assert checks.check_two_layer_backward(nn_checks._two_layer_backward)
    assert checks.check_two_layer_backward(_backward_written_by_a_learner)
    capsys.readouterr()

    def bias_not_summed(*args):
        return {**nn_checks._two_layer_backward(*args), "b2": nn_checks._cross_entropy_gradient(args[3], args[2])}

    verdict, line = _verdict_and_line(checks.check_two_layer_backward, bias_not_summed, capsys)
    assert not verdict and "grads['b2'] has shape (6, 3) but params['b2'] has shape (3,)" in line
    verdict, line = _verdict_and_line(
        checks.check_two_layer_backward,
        lambda *args: {name: g for name, g in nn_checks._two_layer_backward(*args).items() if name != "b1"}, capsys)
    assert not verdict and "a gradient for each of W1, b1, W2, b2" in line

    def second_layer_uses_the_inputs(*args):   # a wrong factor of the same shape: only the hint can say where
        params, inputs, labels, logits, hidden = args
        grads = nn_checks._two_layer_backward(*args)
        return {**grads, "W2": np.tanh(inputs @ params["W1"]).T @ nn_checks._cross_entropy_gradient(logits, labels)}

    verdict, line = _verdict_and_line(checks.check_two_layer_backward, second_layer_uses_the_inputs, capsys)
    assert not verdict and "numerical gradient" in line


# ------------------------------------------------------------------ one SGD step

def test_check_sgd_step(capsys):
    assert checks.check_sgd_step(nn_checks._sgd_step)
    capsys.readouterr()
    verdict, line = _verdict_and_line(checks.check_sgd_step,
                                      lambda p, g, lr: [p[k] - lr * g[k] for k in p], capsys)
    assert not verdict and "return a dict with the same keys" in line
    verdict, line = _verdict_and_line(checks.check_sgd_step,
                                      lambda p, g, lr: {k: p[k] - g[k] / lr for k in p}, capsys)
    assert not verdict and "direction that lowers the loss" in line             # divided by the rate: the hint
