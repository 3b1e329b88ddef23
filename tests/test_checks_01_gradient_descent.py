"""The exercise checks of notebook 01 (gradient descent): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np

from course_utils import checks
from course_utils.checks import gradient_descent as gd_checks



def _not_written(*args):
    raise NotImplementedError


# ------------------------------------------------------------------ notebook 01: gradient descent

def test_check_loss_gradient(capsys):
    assert checks.check_loss_gradient(gd_checks._loss_gradient)
    assert not checks.check_loss_gradient(lambda w, x, y: 2 * x * (y - w * x))   # sign error
    assert not checks.check_loss_gradient(lambda w, x, y: -x * (y - w * x))      # forgot the 2
    assert not checks.check_loss_gradient(lambda w, x, y: -2 * (y - w * x))      # forgot the inner derivative x
    assert not checks.check_loss_gradient(_not_written)
    assert "⏳" in capsys.readouterr().out


def _bisection_edge(x, y, num_halvings=30):
    """The stability edge found by experiment, as the exercise's hint describes (no formula)."""
    def stable(learning_rate):
        w = 0.0
        for _ in range(100):
            w = w - learning_rate * (-2 * x * (y - w * x))
        with np.errstate(over="ignore", invalid="ignore"):
            final = (y - w * x) ** 2
        return bool(np.isfinite(final) and final < y ** 2)

    low, high = 0.0, 1.0
    for _ in range(num_halvings):
        middle = (low + high) / 2
        low, high = (middle, high) if stable(middle) else (low, middle)
    return low


def test_check_largest_stable_learning_rate():
    assert checks.check_largest_stable_learning_rate(_bisection_edge)
    assert checks.check_largest_stable_learning_rate(gd_checks._largest_stable_learning_rate)
    assert not checks.check_largest_stable_learning_rate(lambda x, y: 2 / x ** 2)        # the edge doubled
    assert not checks.check_largest_stable_learning_rate(lambda x, y: 1 / (2 * x ** 2))  # the no-oscillation edge
    assert not checks.check_largest_stable_learning_rate(lambda x, y: _bisection_edge(x, y, num_halvings=3))  # too coarse
    assert not checks.check_largest_stable_learning_rate(_not_written)


def _mse_gradient(params, inputs, targets):
    residuals = targets - (params[0] * inputs + params[1])
    return np.array([np.mean(-2.0 * inputs * residuals), np.mean(-2.0 * residuals)])


def _sgd_epoch_sum_not_mean(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=float)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        params = params - learning_rate * len(batch) * _mse_gradient(params, inputs[batch], targets[batch])
    return params


def _sgd_epoch_drops_last_batch(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=float)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        params = params - learning_rate * _mse_gradient(params, inputs[batch], targets[batch])
    return params


def _sgd_epoch_ignores_order(params, inputs, targets, learning_rate, batch_size, order):
    return gd_checks._sgd_epoch(params, inputs, targets, learning_rate, batch_size, np.arange(len(order)))


def _sgd_epoch_forgets_bias(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=float)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        params[0] -= learning_rate * _mse_gradient(params, inputs[batch], targets[batch])[0]
    return params


def test_check_sgd_epoch():
    assert checks.check_sgd_epoch(gd_checks._sgd_epoch)
    for wrong in (_sgd_epoch_sum_not_mean, _sgd_epoch_drops_last_batch, _sgd_epoch_ignores_order,
                  _sgd_epoch_forgets_bias, _not_written):
        assert not checks.check_sgd_epoch(wrong), wrong.__name__
