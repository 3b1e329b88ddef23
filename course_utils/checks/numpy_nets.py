"""Checks for notebook 02 (neural networks from scratch in numpy)."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Verdict, run_check

__all__ = ["check_softmax", "check_cross_entropy_gradient", "check_tanh_layer_backward", "check_sgd_step"]

# Reference answers.

def _softmax(logits):
    exp_shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return exp_shifted / exp_shifted.sum(axis=-1, keepdims=True)


def _cross_entropy_gradient(logits, labels):
    targets = np.zeros_like(logits)
    targets[np.arange(len(labels)), labels] = 1.0
    return (_softmax(logits) - targets) / len(logits)


def _tanh_layer_backward(inputs, weights, bias, grad_outputs):
    grad_pre_activation = grad_outputs * (1.0 - np.tanh(inputs @ weights + bias) ** 2)
    return grad_pre_activation @ weights.T, inputs.T @ grad_pre_activation, grad_pre_activation.sum(axis=0)


def _sgd_step(params, grads, learning_rate):
    return {name: params[name] - learning_rate * grads[name] for name in params}



def check_softmax(softmax) -> Verdict:
    """``softmax(logits)`` (N, C) -> probabilities (N, C), stable for huge logits."""
    rng = np.random.default_rng(0)
    random_logits = rng.normal(size=(5, 4))
    huge_logits = np.array([[1000.0, 999.0, 998.0], [-1000.0, -1001.0, -1002.0]])
    cases = [
        ((np.array([[1.0, 2.0, 3.0]]),), np.array([[0.09003057, 0.24472847, 0.66524096]])),
        ((random_logits,), _softmax(random_logits)),
        ((huge_logits,), _softmax(huge_logits)),  # e^1000 overflows: subtract the row maximum first
    ]
    return run_check("softmax", softmax, cases, tolerance=1e-6,
                     hint="Hint: subtract each row's maximum (keepdims=True) before np.exp, then divide by the row sums.")


def check_cross_entropy_gradient(cross_entropy_gradient) -> Verdict:
    """``cross_entropy_gradient(logits, labels)`` -> (softmax(logits) - one_hot(labels)) / N, shape (N, C)."""
    rng = np.random.default_rng(1)
    random_logits = rng.normal(size=(6, 5))
    random_labels = rng.integers(0, 5, size=6)
    cases = [
        ((np.array([[0.0, 0.0]]), np.array([1])), np.array([[0.5, -0.5]])),
        ((random_logits, random_labels), _cross_entropy_gradient(random_logits, random_labels)),
    ]
    return run_check("cross_entropy_gradient", cross_entropy_gradient, cases, tolerance=1e-6,
                     hint="Hint: q - p, where q is the softmax of each row and p the one-hot label; "
                          "divide by N because the loss is the mean over the batch.")


def _flattened_backward(tanh_layer_backward):
    """Wrap the learner's function so run_check compares the three gradients as one array, shapes first."""
    def wrapped(inputs, weights, bias, grad_outputs):
        result = tanh_layer_backward(inputs, weights, bias, grad_outputs)
        if result is None:
            return None
        if not isinstance(result, (tuple, list)) or len(result) != 3:
            raise ValueError("return three arrays: (grad_inputs, grad_weights, grad_bias)")
        expected_shapes = {"grad_inputs": inputs.shape, "grad_weights": weights.shape, "grad_bias": bias.shape}
        for (name, shape), array in zip(expected_shapes.items(), result):
            if np.shape(array) != shape:
                raise ValueError(f"{name} has shape {np.shape(array)}, expected {shape} (the shape of what it is the gradient of)")
        return np.concatenate([np.ravel(np.asarray(array, dtype=np.float64)) for array in result])
    return wrapped


def check_tanh_layer_backward(tanh_layer_backward) -> Verdict:
    """``tanh_layer_backward(inputs, weights, bias, grad_outputs)`` -> (grad_inputs, grad_weights, grad_bias)."""
    rng = np.random.default_rng(2)
    cases = []
    for num_examples, num_inputs, num_outputs in ((1, 2, 1), (4, 3, 5)):
        args = (rng.normal(size=(num_examples, num_inputs)), rng.normal(size=(num_inputs, num_outputs)),
                rng.normal(size=num_outputs), rng.normal(size=(num_examples, num_outputs)))
        expected = np.concatenate([np.ravel(g) for g in _tanh_layer_backward(*args)])
        cases.append((args, expected))
    return run_check("tanh_layer_backward", _flattened_backward(tanh_layer_backward), cases, tolerance=1e-6,
                     describe_inputs=False,
                     hint="Hint: first grad_pre = grad_outputs * (1 - tanh(a)**2) with a = inputs @ weights + bias; "
                          "then grad_inputs = grad_pre @ weights.T, grad_weights = inputs.T @ grad_pre, grad_bias = grad_pre summed over the batch.")


def _flattened_sgd(sgd_step):
    def wrapped(params, grads, learning_rate):
        originals = {name: value.copy() for name, value in params.items()}
        result = sgd_step(params, grads, learning_rate)
        if result is None:
            return None
        if any(not np.array_equal(params[name], originals[name]) for name in params):
            raise ValueError("the arrays in params were changed in place; return new arrays (w - learning_rate * g)")
        if not isinstance(result, dict) or set(result) != set(params):
            raise ValueError(f"return a dict with the same keys as params {sorted(params)}")
        for name in params:
            if np.shape(result[name]) != params[name].shape:
                raise ValueError(f"{name} has shape {np.shape(result[name])}, expected {params[name].shape}")
        return np.concatenate([np.ravel(np.asarray(result[name], dtype=np.float64)) for name in sorted(params)])
    return wrapped


def check_sgd_step(sgd_step) -> Verdict:
    """``sgd_step(params, grads, learning_rate)`` -> new dict {name: params[name] - learning_rate * grads[name]}."""
    rng = np.random.default_rng(3)
    params = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    grads = {"W1": rng.normal(size=(3, 2)), "b1": rng.normal(size=2)}
    cases = []
    for args in (({"w": np.array([2.0])}, {"w": np.array([4.0])}, 0.25), (params, grads, 0.1)):
        updated = _sgd_step(*args)
        cases.append((args, np.concatenate([np.ravel(updated[name]) for name in sorted(updated)])))
    return run_check("sgd_step", _flattened_sgd(sgd_step), cases, tolerance=1e-9, describe_inputs=False,
                     hint="Hint: step against the gradient: {name: params[name] - learning_rate * grads[name] for name in params}.")
