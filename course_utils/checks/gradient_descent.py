"""Checks for notebook 01 (gradient descent on w·x = y).

Each check compares the learner's function with a private reference answer (``_<name>``) and
recognises the common mistakes of its exercise by name (the ``_..._MISTAKES`` tuples: each wrong
function returns what a function with that mistake would return).
"""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Mistake, Verdict, recognising, run_check

__all__ = ["check_loss_gradient", "check_gradient_descent", "check_largest_stable_learning_rate",
           "check_mean_squared_error_gradient", "check_sgd_epoch"]

# ------------------------------------------------------------------ the reference answers
# The loss is (y - w·x)² for one point, and the mean of (y - (w·x + b))² for many.

def _loss_gradient(w, x, y):
    return -2.0 * x * (y - np.asarray(w, dtype=np.float64) * x)


def _gradient_descent(w_start, learning_rate, num_steps, x, y):
    path = [float(w_start)]
    for _ in range(num_steps):
        path.append(path[-1] - learning_rate * _loss_gradient(path[-1], x, y))
    return np.array(path)


def _largest_stable_learning_rate(x, y):
    return 1.0 / x ** 2  # the update multiplies the error w - y/x by 1 - 2ηx², which must stay within (-1, 1)


def _mean_squared_error_gradient(params, inputs, targets):
    residuals = targets - (params[0] * inputs + params[1])
    return np.array([np.mean(-2.0 * inputs * residuals), np.mean(-2.0 * residuals)])


def _sgd_epoch(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=np.float64)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        params = params - learning_rate * _mean_squared_error_gradient(params, inputs[batch], targets[batch])
    return params


def _noisy_line(num_points, bias, seed):
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-2.0, 2.0, size=num_points)
    return inputs, 2.0 * inputs + bias + rng.normal(0.0, 0.5, size=num_points)


# ------------------------------------------------------------------ exercise 1: the slope of (y - w·x)²

_LOSS_GRADIENT_MISTAKES = (
    Mistake("the sign is flipped: left of the bottom (w = 0 for the point (3, 6)) the slope must be negative, "
            "because the loss falls as w grows; look at the sign of de/dw",
            lambda w, x, y: -_loss_gradient(w, x, y)),
    Mistake("the factor 2 is missing: your slopes are half the measured ones; look again at how fast e² changes "
            "with e",
            lambda w, x, y: _loss_gradient(w, x, y) / 2),
    Mistake("the inner derivative is missing: the chain rule also multiplies by de/dw, how fast the error "
            "e = y - w·x changes when w grows",
            lambda w, x, y: -2.0 * (y - np.asarray(w, dtype=np.float64) * x)),
    Mistake("x and y are swapped: the prediction is w times the input x, and it is compared with the target y",
            lambda w, x, y: _loss_gradient(w, y, x)),
)


@recognising(*_LOSS_GRADIENT_MISTAKES)
def check_loss_gradient(loss_gradient) -> Verdict:
    """``loss_gradient(w, x, y)`` must return dLoss/dw of ``(y - w·x)²``, for a number or an array of ``w``."""
    weights = np.linspace(-3.0, 5.0, 9)
    cases = [((w, x, y), _loss_gradient(w, x, y))
             for w, x, y in ((0.0, 3.0, 6.0), (2.5, 3.0, 6.0), (1.0, -2.0, 4.0), (weights, 0.5, 1.5))]
    return run_check("loss_gradient", loss_gradient, cases, tolerance=1e-6, mistakes=_LOSS_GRADIENT_MISTAKES,
                     start="Name the error e = y - w·x first: the loss is e², so the chain rule needs two "
                           "derivatives, of e² with respect to e and of e with respect to w.",
                     hint="Compare with the slopes measured by finite differences above: for the point (3, 6) "
                          "your function must give -36 at w = 0, 0 at w = 2 and +18 at w = 3.")


# ------------------------------------------------------------------ exercise 2: the path of gradient descent

def _descent_steps(w_start, learning_rate, num_steps, x, y, *, direction=-1.0, slope_at_start=False):
    """The path of a loop with a chosen mistake: walking uphill, or always using the slope at w_start."""
    path = [float(w_start)]
    for _ in range(num_steps):
        slope = _loss_gradient(w_start if slope_at_start else path[-1], x, y)
        path.append(path[-1] + direction * learning_rate * slope)
    return np.array(path)


_GRADIENT_DESCENT_MISTAKES = (
    Mistake("the path misses its start: path[0] must be w_start, followed by one value after each update "
            "(num_steps + 1 values in all)",
            lambda w_start, learning_rate, num_steps, x, y: _gradient_descent(w_start, learning_rate, num_steps, x, y)[1:]),
    Mistake("one update is missing: the path starts at w_start but stops one step early; num_steps updates "
            "give num_steps + 1 values",
            lambda w_start, learning_rate, num_steps, x, y: _gradient_descent(w_start, learning_rate, num_steps, x, y)[:-1]),
    Mistake("only the last w is returned: return the whole path, every w from the start to the end",
            lambda w_start, learning_rate, num_steps, x, y: _gradient_descent(w_start, learning_rate, num_steps, x, y)[-1]),
    Mistake("the update goes uphill: the step is added to w instead of taken away, so the loss grows every step",
            lambda w_start, learning_rate, num_steps, x, y: _descent_steps(w_start, learning_rate, num_steps, x, y,
                                                                           direction=1.0)),
    Mistake("every step uses the slope at w_start: the slope must be measured again at the current w, "
            "the last value of the path",
            lambda w_start, learning_rate, num_steps, x, y: _descent_steps(w_start, learning_rate, num_steps, x, y,
                                                                           slope_at_start=True)),
)


@recognising(*_GRADIENT_DESCENT_MISTAKES)
def check_gradient_descent(gradient_descent) -> Verdict:
    """``gradient_descent(w_start, learning_rate, num_steps, x, y)`` must return the path of w, shape (num_steps + 1,)."""
    cases = [(arguments, _gradient_descent(*arguments)) for arguments in (
        (0.0, 0.02, 6, 3.0, 6.0),    # the six steps of the table
        (4.0, 0.1, 5, 3.0, 6.0),     # overshooting, from the right
        (-1.0, 0.3, 8, 1.0, -2.0),   # another point, a negative target
        (0.0, 0.12, 20, 3.0, 6.0),   # diverging: the path grows, no error
        (1.5, 0.05, 0, 2.0, 1.0),    # no steps at all: the path is the start alone
    )]
    return run_check("gradient_descent", gradient_descent, cases, tolerance=1e-6, mistakes=_GRADIENT_DESCENT_MISTAKES,
                     start="Start with a list that holds only w_start; every update then adds one more value to "
                           "it, and the list becomes the array you return.",
                     hint="Print your path for the first case (from w = 0 with η = 0.02 on the point (3, 6)) and "
                          "compare it with the table of six steps by hand, value by value.")


# ------------------------------------------------------------------ exercise 3: the stability edge by bisection

def _bisect_learning_rate(x, y, stable, num_halvings=30):
    """Bisection on [0, 1] with a given test of stability; keeps low stable and high unstable."""
    low, high = 0.0, 1.0
    for _ in range(num_halvings):
        middle = (low + high) / 2
        low, high = (middle, high) if stable(middle, x, y) else (low, middle)
    return low


def _run_is_stable(learning_rate, x, y):
    with np.errstate(over="ignore", invalid="ignore"):
        final_w = _gradient_descent(0.0, learning_rate, 100, x, y)[-1]
        final_loss = (y - final_w * x) ** 2
    return bool(np.isfinite(final_loss) and final_loss < y ** 2)


def _run_never_overshoots(learning_rate, x, y):
    path = _gradient_descent(0.0, learning_rate, 100, x, y)
    with np.errstate(over="ignore", invalid="ignore"):
        return bool(np.all(np.isfinite(path)) and np.all((y / x - path) * (y / x) >= 0))  # never past y/x


_LARGEST_STABLE_LEARNING_RATE_MISTAKES = (
    Mistake("you found where w starts to overshoot, not where it diverges: a run that jumps across the bottom but "
            "closes in (its loss ends below where it started) still counts as stable",
            lambda x, y: _bisect_learning_rate(x, y, _run_never_overshoots)),
    Mistake("x and y are swapped: the edge you found belongs to the point (y, x); pass x, then y, to the runs",
            lambda x, y: _bisect_learning_rate(y, x, _run_is_stable)),
    Mistake("your answer is the top of the interval [0, 1]: either the two ends are swapped (when the middle is "
            "stable, the edge lies above it, so the lower end moves up) or your test calls every rate stable "
            "(a diverging run of 100 steps is still a finite number: compare its final loss with its first)",
            lambda x, y: _bisect_learning_rate(x, y, lambda rate, x, y: not _run_is_stable(rate, x, y))),
    Mistake("your answer is the bottom of the interval, 0: your test of stability never said yes; try it on a rate "
            "you know is stable, such as 0.05 for the point (3, 6)",
            lambda x, y: _bisect_learning_rate(x, y, lambda rate, x, y: False)),
)


@recognising(*_LARGEST_STABLE_LEARNING_RATE_MISTAKES)
def check_largest_stable_learning_rate(largest_stable_learning_rate) -> Verdict:
    """``largest_stable_learning_rate(x, y)`` must find the stability edge of gradient descent within 1 %."""
    cases = [((x, y), _largest_stable_learning_rate(x, y)) for x, y in ((3.0, 6.0), (2.0, 1.0), (5.0, -5.0))]
    return run_check("largest_stable_learning_rate", largest_stable_learning_rate, cases, tolerance=1e-2,
                     mistakes=_LARGEST_STABLE_LEARNING_RATE_MISTAKES,
                     start="Write the test first: a small function that runs 100 steps from w = 0 at a given rate "
                           "and says whether the final loss is below the starting loss. Try it on 0.05 and 0.12.",
                     hint="Keep two numbers, a rate known to be stable and one known to be unstable, and move one "
                          "of them to the middle each time, so the edge always stays between them.")


# ------------------------------------------------------------------ exercise 4: both slopes of the mean loss

def _mean_squared_error_gradient_without_bias(params, inputs, targets):
    return _mean_squared_error_gradient(np.array([params[0], 0.0]), inputs, targets)


def _mean_squared_error_gradient_b_times_x(params, inputs, targets):
    slope_w = _mean_squared_error_gradient(params, inputs, targets)[0]
    return np.array([slope_w, slope_w])


_MEAN_SQUARED_ERROR_GRADIENT_MISTAKES = (
    Mistake("the slopes are N times too large: the loss is a mean over the N points, so its slopes are means "
            "too, not sums",
            lambda params, inputs, targets: len(inputs) * _mean_squared_error_gradient(params, inputs, targets)),
    Mistake("the factor 2 is missing: each point's loss is a square, and the derivative of a square is twice "
            "its base",
            lambda params, inputs, targets: _mean_squared_error_gradient(params, inputs, targets) / 2),
    Mistake("the signs are flipped: the residual y - (w·x + b) falls when w or b grows, so look at the sign of "
            "its derivatives",
            lambda params, inputs, targets: -_mean_squared_error_gradient(params, inputs, targets)),
    Mistake("the bias is forgotten: the prediction is w·x + b, so b belongs in every residual",
            _mean_squared_error_gradient_without_bias),
    Mistake("the slope of b is weighted by x, like the slope of w: look at how much the prediction w·x + b "
            "changes when b grows by 1",
            _mean_squared_error_gradient_b_times_x),
)


@recognising(*_MEAN_SQUARED_ERROR_GRADIENT_MISTAKES)
def check_mean_squared_error_gradient(mean_squared_error_gradient) -> Verdict:
    """``mean_squared_error_gradient(params, inputs, targets)`` must return [dL/dw, dL/db], shape (2,)."""
    inputs, targets = _noisy_line(40, bias=1.0, seed=5)
    cases = [(arguments, _mean_squared_error_gradient(*arguments)) for arguments in (
        (np.array([0.5, -0.5]), inputs, targets),
        (np.array([2.0, 3.0]), inputs[:7], targets[:7]),
        (np.array([-1.0, 0.0]), np.array([1.0, 2.0, 3.0]), np.array([2.0, 2.0, 5.0])),
    )]
    return run_check("mean_squared_error_gradient", mean_squared_error_gradient, cases, tolerance=1e-6,
                     mistakes=_MEAN_SQUARED_ERROR_GRADIENT_MISTAKES, describe_inputs=False,
                     start="Compute the residual of every point first (target minus prediction, an array of shape "
                           "(N,)); each slope is then one average over the points.",
                     hint="Test one point by hand: for the point (1, 2) and [w, b] = [0, 0] the loss is (2 - 0)² = 4; "
                          "nudge w and b by 0.001 each and see how much the loss moves.")


# ------------------------------------------------------------------ exercise 5: one epoch of mini-batch SGD

def _sgd_epoch_variant(params, inputs, targets, learning_rate, batch_size, order, *, scale_by_batch=False,
                       drop_last=False, fit_bias=True, sequential=False, direction=-1.0):
    """One epoch with a chosen mistake (sum for mean, last batch dropped, bias frozen, b after w, uphill)."""
    w, b = np.array(params, dtype=np.float64)
    stop = len(order) - batch_size + 1 if drop_last else len(order)
    for start in range(0, stop, batch_size):
        batch = order[start:start + batch_size]
        scale = direction * learning_rate * (len(batch) if scale_by_batch else 1)
        slope_w, slope_b = _mean_squared_error_gradient(np.array([w, b]), inputs[batch], targets[batch])
        w = w + scale * slope_w
        if sequential:  # b's slope measured after w has moved
            slope_b = _mean_squared_error_gradient(np.array([w, b]), inputs[batch], targets[batch])[1]
        b = b + scale * slope_b if fit_bias else b
    return np.array([w, b])


def _sgd_mistake(**mistake):
    return lambda params, inputs, targets, learning_rate, batch_size, order: _sgd_epoch_variant(
        params, inputs, targets, learning_rate, batch_size, order, **mistake)


_SGD_EPOCH_MISTAKES = (
    Mistake("the mean over the batch is replaced by the sum: the steps are batch_size times too large; "
            "average the slopes over the points of the batch",
            _sgd_mistake(scale_by_batch=True)),
    Mistake("the last, smaller batch is dropped: when N is not a multiple of batch_size the final batch holds "
            "the points left over, and they must be used too",
            _sgd_mistake(drop_last=True)),
    Mistake("the shuffled order is ignored: batches must be taken from order (the first batch holds the points "
            "order[0], order[1], ...), not from the points as they are stored",
            lambda params, inputs, targets, learning_rate, batch_size, order: _sgd_epoch(
                params, inputs, targets, learning_rate, batch_size, np.arange(len(order)))),
    Mistake("the bias is never updated: both parameters, w and b, take a step after every batch",
            _sgd_mistake(fit_bias=False)),
    Mistake("b's slope is measured after w has already moved: compute both slopes of a batch first, at the same "
            "[w, b], and only then update both",
            _sgd_mistake(sequential=True)),
    Mistake("the update goes uphill: the steps are added to w and b instead of taken away",
            _sgd_mistake(direction=1.0)),
)


@recognising(*_SGD_EPOCH_MISTAKES)
def check_sgd_epoch(sgd_epoch) -> Verdict:
    """``sgd_epoch(params, inputs, targets, learning_rate, batch_size, order)`` must return the new [w, b]."""
    inputs, targets = _noisy_line(70, bias=1.0, seed=3)
    order = np.random.default_rng(4).permutation(70)
    params_start = np.array([0.5, -0.5])
    cases = []
    for batch_size in (70, 32, 1):  # full batch, a smaller last batch (70 = 32 + 32 + 6), one point at a time
        arguments = (params_start.copy(), inputs, targets, 0.05, batch_size, order)
        cases.append((arguments, _sgd_epoch(*arguments)))
    return run_check("sgd_epoch", sgd_epoch, cases, tolerance=1e-6, describe_inputs=False, mistakes=_SGD_EPOCH_MISTAKES,
                     start="Unpack params into w and b, then loop over the positions in order at which a batch "
                           "begins, one batch_size apart.",
                     hint="Try a tiny case by hand: 5 points and batch_size 2 give three batches (2, 2 and 1 "
                          "points), so three updates, each from its batch's average slopes.")
