"""Checks for notebook 01 (gradient descent on w·x = y)."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Verdict, run_check

__all__ = ["check_loss_gradient", "check_largest_stable_learning_rate", "check_sgd_epoch"]

# Reference answers (the loss is (y - w·x)² for one point, and the mean of (y - (w·x + b))² for many).

def _loss_gradient(w, x, y):
    return -2.0 * x * (y - np.asarray(w, dtype=np.float64) * x)


def _largest_stable_learning_rate(x, y):
    return 1.0 / x ** 2  # the update multiplies the error w - y/x by 1 - 2ηx², which must stay within (-1, 1)


def _noisy_line(num_points, bias, seed):
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-2.0, 2.0, size=num_points)
    return inputs, 2.0 * inputs + bias + rng.normal(0.0, 0.5, size=num_points)


def _sgd_epoch(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=np.float64)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        residuals = targets[batch] - (params[0] * inputs[batch] + params[1])
        gradient = np.array([np.mean(-2.0 * inputs[batch] * residuals), np.mean(-2.0 * residuals)])
        params = params - learning_rate * gradient
    return params



def check_loss_gradient(loss_gradient) -> Verdict:
    """``loss_gradient(w, x, y)`` must return dLoss/dw of ``(y - w·x)²``, for a number or an array of ``w``."""
    weights = np.linspace(-3.0, 5.0, 9)
    cases = [
        ((0.0, 3.0, 6.0), _loss_gradient(0.0, 3.0, 6.0)),
        ((2.5, 3.0, 6.0), _loss_gradient(2.5, 3.0, 6.0)),
        ((1.0, -2.0, 4.0), _loss_gradient(1.0, -2.0, 4.0)),
        ((weights, 0.5, 1.5), _loss_gradient(weights, 0.5, 1.5)),
    ]
    return run_check("loss_gradient", loss_gradient, cases, tolerance=1e-6,
                     hint="Hint: chain rule on (y - w·x)²: 2·(y - w·x) times the derivative of (y - w·x), which is -x.")


def check_largest_stable_learning_rate(largest_stable_learning_rate) -> Verdict:
    """``largest_stable_learning_rate(x, y)`` must find the stability edge of gradient descent within 1 %."""
    cases = [((x, y), _largest_stable_learning_rate(x, y)) for x, y in ((3.0, 6.0), (2.0, 1.0), (5.0, -5.0))]
    return run_check("largest_stable_learning_rate", largest_stable_learning_rate, cases, tolerance=1e-2,
                     hint="Hint: bisection on η in [0, 1]: run 100 steps from w = 0; if the loss ends lower than it "
                          "started, η is stable and the edge is higher, else it is lower. Halve the interval 30 times.")


def check_sgd_epoch(sgd_epoch) -> Verdict:
    """``sgd_epoch(params, inputs, targets, learning_rate, batch_size, order)`` must return the new [w, b]."""
    inputs, targets = _noisy_line(70, bias=1.0, seed=3)
    order = np.random.default_rng(4).permutation(70)
    start = np.array([0.5, -0.5])
    cases = []
    for batch_size in (70, 32, 1):  # full batch, a smaller last batch (70 = 32 + 32 + 6), one point at a time
        arguments = (start.copy(), inputs, targets, 0.05, batch_size, order)
        cases.append((arguments, _sgd_epoch(*arguments)))
    return run_check("sgd_epoch", sgd_epoch, cases, tolerance=1e-6, describe_inputs=False,
                     hint="Hint: for each batch order[k:k + batch_size] (including a last, smaller one) compute the "
                          "mean gradient of both w and b on that batch and update both before the next batch.")
