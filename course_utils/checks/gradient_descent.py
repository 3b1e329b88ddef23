"""Checks for notebook 01 (gradient descent on w·x = y)."""

from __future__ import annotations

import numpy as np

from course_utils import gradient_descent as gd
from course_utils.checks.core import run_check

__all__ = ["check_loss_gradient", "check_largest_stable_learning_rate", "check_sgd_epoch"]


def check_loss_gradient(loss_gradient) -> bool:
    """``loss_gradient(w, x, y)`` must return dLoss/dw of ``(y - w·x)²``, for a number or an array of ``w``."""
    weights = np.linspace(-3.0, 5.0, 9)
    cases = [
        ((0.0, 3.0, 6.0), gd.loss_gradient(0.0, 3.0, 6.0)),
        ((2.5, 3.0, 6.0), gd.loss_gradient(2.5, 3.0, 6.0)),
        ((1.0, -2.0, 4.0), gd.loss_gradient(1.0, -2.0, 4.0)),
        ((weights, 0.5, 1.5), gd.loss_gradient(weights, 0.5, 1.5)),
    ]
    return run_check("loss_gradient", loss_gradient, cases, tolerance=1e-6,
                     hint="Hint: chain rule on (y - w·x)²: 2·(y - w·x) times the derivative of (y - w·x), which is -x.")


def check_largest_stable_learning_rate(largest_stable_learning_rate) -> bool:
    """``largest_stable_learning_rate(x, y)`` must find the stability edge of gradient descent within 1 %."""
    cases = [((x, y), gd.largest_stable_learning_rate(x, y)) for x, y in ((3.0, 6.0), (2.0, 1.0), (5.0, -5.0))]
    return run_check("largest_stable_learning_rate", largest_stable_learning_rate, cases, tolerance=1e-2,
                     hint="Hint: bisection on η in [0, 1]: run 100 steps from w = 0; if the loss ends lower than it "
                          "started, η is stable and the edge is higher, else it is lower. Halve the interval 30 times.")


def check_sgd_epoch(sgd_epoch) -> bool:
    """``sgd_epoch(params, inputs, targets, learning_rate, batch_size, order)`` must return the new [w, b]."""
    inputs, targets = gd.make_noisy_line(70, bias=1.0, seed=3)
    order = np.random.default_rng(4).permutation(70)
    start = np.array([0.5, -0.5])
    cases = []
    for batch_size in (70, 32, 1):  # full batch, a smaller last batch (70 = 32 + 32 + 6), one point at a time
        arguments = (start.copy(), inputs, targets, 0.05, batch_size, order)
        cases.append((arguments, gd.sgd_epoch(*arguments)))
    return run_check("sgd_epoch", sgd_epoch, cases, tolerance=1e-6, describe_inputs=False,
                     hint="Hint: for each batch order[k:k + batch_size] (including a last, smaller one) compute the "
                          "mean gradient of both w and b on that batch and update both before the next batch.")
