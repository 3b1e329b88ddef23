"""The exercise checks of notebook 01 (gradient descent): each accepts a correct answer and rejects named mistakes.

The wrong answers below are written the way a learner would write them (not copied from the check's own
models of the mistakes), so these tests show that a real slip is named.
"""

from __future__ import annotations

import functools

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import gradient_descent as gd_checks


def _not_written(*args):
    raise NotImplementedError


def _diagnosis_of(check, fragment):
    """The diagnosis of the one mistake of ``check`` whose text contains ``fragment``."""
    found = [mistake.diagnosis for mistake in check.mistakes if fragment in mistake.diagnosis]
    assert len(found) == 1, (fragment, found)
    return found[0]


def _rejected_with(check, function, fragment, capsys):
    """The check rejects ``function`` and prints the diagnosis containing ``fragment``."""
    capsys.readouterr()  # forget what earlier calls printed
    assert not check(function)
    out = capsys.readouterr().out
    assert out.startswith("❌") and _diagnosis_of(check, fragment) in out, out


@pytest.mark.parametrize("check", [checks.check_loss_gradient, checks.check_gradient_descent,
                                   checks.check_largest_stable_learning_rate, checks.check_mean_squared_error_gradient,
                                   checks.check_sgd_epoch], ids=lambda check: check.__name__)
def test_every_check_names_each_of_its_mistakes_and_says_how_to_start(check, capsys):
    assert len(check.mistakes) >= 2
    for mistake in check.mistakes:
        assert not check(mistake.wrong)
        assert mistake.diagnosis in capsys.readouterr().out
    assert not check(_not_written)
    line = capsys.readouterr().out
    assert line.startswith("⏳") and len(line.split("NotImplementedError).")[1].strip()) > 20, line


# ------------------------------------------------------------------ exercise 1: loss_gradient

def test_check_loss_gradient(capsys):
    assert checks.check_loss_gradient(gd_checks._loss_gradient)
    assert checks.check_loss_gradient(lambda w, x, y: 2 * x * x * np.asarray(w) - 2 * x * y)  # expanded: also right
    assert "✅" in capsys.readouterr().out
    check = checks.check_loss_gradient
    _rejected_with(check, lambda w, x, y: 2 * x * (y - w * x), "sign is flipped", capsys)
    _rejected_with(check, lambda w, x, y: -x * (y - w * x), "factor 2", capsys)
    _rejected_with(check, lambda w, x, y: -2 * (y - w * x), "inner derivative", capsys)
    _rejected_with(check, lambda w, x, y: -2 * y * (x - w * y), "x and y are swapped", capsys)
    assert not check(lambda w, x, y: np.zeros_like(w, dtype=float) - 2 * x * y)  # the slope at w = 0 for every w
    out = capsys.readouterr().out
    assert "expected" in out and "finite differences" in out
    assert not check(lambda w, x, y: None)
    assert "⏳" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 2: gradient_descent

def _descent_returning_updates_only(w_start, learning_rate, num_steps, x, y):
    w, path = w_start, []
    for _ in range(num_steps):
        w = w - learning_rate * (-2 * x * (y - w * x))
        path.append(w)
    return np.array(path)


def _descent_uphill(w_start, learning_rate, num_steps, x, y):
    path = [w_start]
    for _ in range(num_steps):
        path.append(path[-1] + learning_rate * (-2 * x * (y - path[-1] * x)))
    return np.array(path)


def _descent_slope_at_start(w_start, learning_rate, num_steps, x, y):
    path = [w_start]
    for _ in range(num_steps):
        path.append(path[-1] - learning_rate * (-2 * x * (y - w_start * x)))
    return np.array(path)


def _descent_final_w(w_start, learning_rate, num_steps, x, y):
    return gd_checks._gradient_descent(w_start, learning_rate, num_steps, x, y)[-1]


def test_check_gradient_descent(capsys):
    assert checks.check_gradient_descent(gd_checks._gradient_descent)
    check = checks.check_gradient_descent
    np.testing.assert_allclose(gd_checks._gradient_descent(0.0, 0.02, 2, 3.0, 6.0), [0.0, 0.72, 1.1808])
    _rejected_with(check, _descent_returning_updates_only, "misses its start", capsys)
    _rejected_with(check, _descent_uphill, "uphill", capsys)
    _rejected_with(check, _descent_slope_at_start, "slope at w_start", capsys)
    _rejected_with(check, _descent_final_w, "only the last w", capsys)
    assert not check(lambda w_start, learning_rate, num_steps, x, y: np.full(num_steps + 1, w_start))  # never moves
    assert "table of six steps" in capsys.readouterr().out
    assert not check(_not_written)
    assert "⏳" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 3: largest_stable_learning_rate

def _bisection_edge(x, y, num_halvings=30, swap_ends=False):
    """The stability edge found by experiment, as the exercise describes it (no formula)."""
    def stable(learning_rate):
        w = np.float64(0.0)
        with np.errstate(over="ignore", invalid="ignore"):
            for _ in range(100):
                w = w - learning_rate * (-2 * x * (y - w * x))
            final = (y - w * x) ** 2
        return bool(np.isfinite(final) and final < y ** 2)

    low, high = 0.0, 1.0
    for _ in range(num_halvings):
        middle = (low + high) / 2
        if stable(middle) != swap_ends:
            low = middle
        else:
            high = middle
    return high if swap_ends else low


def test_check_largest_stable_learning_rate(capsys):
    assert checks.check_largest_stable_learning_rate(_bisection_edge)
    check = checks.check_largest_stable_learning_rate
    assert check(gd_checks._largest_stable_learning_rate)
    assert check(lambda x, y: _bisection_edge(x, y, num_halvings=12))  # 12 halvings are already within 1 %
    _rejected_with(check, lambda x, y: 1 / (2 * x ** 2), "starts to overshoot", capsys)
    _rejected_with(check, lambda x, y: _bisection_edge(y, x), "x and y are swapped", capsys)
    _rejected_with(check, lambda x, y: _bisection_edge(x, y, swap_ends=True), "top of the interval", capsys)
    _rejected_with(check, lambda x, y: 0.0, "bottom of the interval", capsys)
    assert not check(lambda x, y: 2 / x ** 2)  # the edge doubled: not a named mistake, so the hint
    assert "Keep two numbers" in capsys.readouterr().out
    assert not check(lambda x, y: _bisection_edge(x, y, num_halvings=3))  # too coarse
    assert not check(_not_written)


# ------------------------------------------------------------------ exercise 4: mean_squared_error_gradient

def _slopes(params, inputs, targets, *, reduce=np.mean, factor=2.0, use_bias=True, b_times_x=False):
    w, b = params
    residuals = targets - (w * inputs + (b if use_bias else 0.0))
    slope_w = reduce(-factor * inputs * residuals)
    slope_b = reduce(-factor * (inputs if b_times_x else 1.0) * residuals)
    return np.array([slope_w, slope_b])


def test_check_mean_squared_error_gradient(capsys):
    assert checks.check_mean_squared_error_gradient(gd_checks._mean_squared_error_gradient)
    check = checks.check_mean_squared_error_gradient
    assert check(_slopes)
    params, inputs, targets = np.array([0.3, -0.2]), np.array([0.5, -1.0, 2.0]), np.array([1.0, 0.0, 4.0])
    numerical = checks.numerical_gradient(lambda p: np.mean((targets - (p[0] * inputs + p[1])) ** 2), params.copy())
    assert checks.rel_error(gd_checks._mean_squared_error_gradient(params, inputs, targets), numerical) < 1e-8
    _rejected_with(check, lambda p, i, t: _slopes(p, i, t, reduce=np.sum), "N times too large", capsys)
    _rejected_with(check, lambda p, i, t: _slopes(p, i, t, factor=1.0), "factor 2", capsys)
    _rejected_with(check, lambda p, i, t: _slopes(p, i, t, factor=-2.0), "signs are flipped", capsys)
    _rejected_with(check, lambda p, i, t: _slopes(p, i, t, use_bias=False), "bias is forgotten", capsys)
    _rejected_with(check, lambda p, i, t: _slopes(p, i, t, b_times_x=True), "weighted by x", capsys)
    assert not check(lambda p, i, t: _slopes(p, i, t)[::-1])  # the two slopes in the wrong order
    assert "nudge w and b" in capsys.readouterr().out
    assert not check(_not_written)


# ------------------------------------------------------------------ exercise 5: sgd_epoch

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
    params = np.array(params, dtype=float)
    for start in range(0, len(inputs), batch_size):
        params = params - learning_rate * _mse_gradient(params, inputs[start:start + batch_size],
                                                        targets[start:start + batch_size])
    return params


def _sgd_epoch_w_first(params, inputs, targets, learning_rate, batch_size, order, *, update_b):
    """Moves w first; then either leaves b alone or moves b with a slope measured after w moved."""
    params = np.array(params, dtype=float)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        params[0] -= learning_rate * _mse_gradient(params, inputs[batch], targets[batch])[0]
        if update_b:
            params[1] -= learning_rate * _mse_gradient(params, inputs[batch], targets[batch])[1]
    return params


def _sgd_epoch_reshuffles(params, inputs, targets, learning_rate, batch_size, order):
    """Shuffles again with its own generator instead of using the order it was given."""
    return gd_checks._sgd_epoch(params, inputs, targets, learning_rate, batch_size,
                                np.random.default_rng(0).permutation(len(order)))


def test_check_sgd_epoch(capsys):
    assert checks.check_sgd_epoch(gd_checks._sgd_epoch)
    check = checks.check_sgd_epoch
    _rejected_with(check, _sgd_epoch_sum_not_mean, "replaced by the sum", capsys)
    _rejected_with(check, _sgd_epoch_drops_last_batch, "last, smaller batch", capsys)
    _rejected_with(check, _sgd_epoch_ignores_order, "order is ignored", capsys)
    _rejected_with(check, functools.partial(_sgd_epoch_w_first, update_b=False), "bias is never updated", capsys)
    _rejected_with(check, functools.partial(_sgd_epoch_w_first, update_b=True), "after w has already moved", capsys)
    assert not check(_sgd_epoch_reshuffles)  # a different shuffle: not a named mistake, so the hint
    assert "three batches" in capsys.readouterr().out
    assert not check(_not_written)
