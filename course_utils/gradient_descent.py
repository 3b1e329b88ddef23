"""Gradient descent on ``w·x = y`` (notebook 01): reference versions of what the learner builds.

Two settings:

* one data point ``(x, y)`` (the notebook uses ``(3, 6)``) and one weight ``w``;
  loss ``(y - w·x)²``, gradient ``-2x(y - w·x)``;
* many noisy points ``inputs`` (N,) and ``targets`` (N,) fitted by a line
  ``w·x + b``; parameters are a float array ``params = [w, b]`` of shape (2,)
  and the loss is the mean squared error over the points.

Everything is plain numpy and deterministic for a fixed seed. The widget demo
(``learning_rate_demo``) wires ipywidgets sliders to ``learning_rate_path``.
"""

from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
import numpy as np

X_POINT, Y_POINT = 3.0, 6.0  # the one training example of the first half of the notebook


# --------------------------------------------------------------------------- one data point

def loss(w, x: float = X_POINT, y: float = Y_POINT):
    """Squared error ``(y - w·x)²`` of the prediction ``w·x`` for one point; ``w`` may be an array of weights."""
    return (y - np.asarray(w, dtype=np.float64) * x) ** 2


def loss_gradient(w, x: float = X_POINT, y: float = Y_POINT):
    """dLoss/dw ``= -2x(y - w·x)``, the derivative of ``loss`` with respect to ``w`` (same shape as ``w``)."""
    return -2.0 * x * (y - np.asarray(w, dtype=np.float64) * x)


def finite_difference_slope(function: Callable[[float], float], w: float, step: float = 1e-4) -> float:
    """Slope of ``function`` at ``w`` measured by the central difference ``(f(w+h) - f(w-h)) / 2h``."""
    if step <= 0:
        raise ValueError(f"step must be positive, got {step}")
    return float((function(w + step) - function(w - step)) / (2 * step))


def _check_run_arguments(learning_rate: float, num_steps: int) -> None:
    if not np.isfinite(learning_rate) or learning_rate < 0:
        raise ValueError(f"learning_rate must be a non-negative number, got {learning_rate}")
    if int(num_steps) != num_steps or num_steps < 0:
        raise ValueError(f"num_steps must be a non-negative whole number, got {num_steps}")


def gradient_descent(w_start: float, learning_rate: float, num_steps: int,
                     x: float = X_POINT, y: float = Y_POINT) -> np.ndarray:
    """Run ``w ← w − η·dLoss/dw`` for ``num_steps`` steps from ``w_start``.

    Returns the path of weights, a float array of shape (num_steps + 1,):
    ``path[0] = w_start`` and ``path[k]`` is the weight after ``k`` updates.
    A diverging run grows to ±inf without raising.
    """
    _check_run_arguments(learning_rate, num_steps)
    path = np.empty(int(num_steps) + 1)
    path[0] = w_start
    with np.errstate(over="ignore", invalid="ignore"):
        for step in range(int(num_steps)):
            path[step + 1] = path[step] - learning_rate * loss_gradient(path[step], x, y)
    return path


def error_factor(learning_rate: float, x: float = X_POINT) -> float:
    """What one update multiplies the error ``w - y/x`` by: ``1 − 2ηx²``. Convergence needs ``|1 − 2ηx²| < 1``."""
    return 1.0 - 2.0 * learning_rate * x ** 2


def largest_stable_learning_rate(x: float = X_POINT, y: float = Y_POINT) -> float:
    """The bound ``η < 1/x²`` below which gradient descent on one point converges (``y`` does not matter)."""
    if x == 0:
        raise ValueError("x = 0 gives a flat loss: every learning rate is 'stable' and nothing is learned")
    return 1.0 / x ** 2


def is_stable(learning_rate: float, x: float = X_POINT, y: float = Y_POINT, num_steps: int = 100,
              w_start: float = 0.0) -> bool:
    """Run ``num_steps`` of gradient descent and say whether the loss ended below where it started."""
    path = gradient_descent(w_start, learning_rate, num_steps, x, y)
    with np.errstate(over="ignore", invalid="ignore"):
        final = loss(path[-1], x, y)
    return bool(np.isfinite(final) and final < loss(w_start, x, y))


def find_largest_stable_learning_rate(x: float = X_POINT, y: float = Y_POINT, *, num_halvings: int = 40) -> float:
    """The largest stable learning rate found by experiment: bisection on ``is_stable``, no formula used."""
    low, high = 0.0, 1.0
    while is_stable(high, x, y):  # make sure the upper end really diverges
        high *= 2
    for _ in range(num_halvings):
        middle = (low + high) / 2
        if is_stable(middle, x, y):
            low = middle
        else:
            high = middle
    return low


# --------------------------------------------------------------------------- drawing and the widget

def draw_path_on_loss_curve(axis, path: np.ndarray, x: float = X_POINT, y: float = Y_POINT, *,
                            title: str | None = None, max_extent: float = 50.0) -> None:
    """Draw the loss curve and the gradient-descent ``path`` on it (numbered dots joined by arrows-like lines)."""
    path = np.asarray(path, dtype=np.float64)
    best_w = y / x
    finite = path[np.isfinite(path)]
    extent = float(np.max(np.abs(finite - best_w))) if finite.size else 1.0
    extent = min(max(extent * 1.15, 1.5), max_extent)
    weights = np.linspace(best_w - extent, best_w + extent, 400)
    axis.plot(weights, loss(weights, x, y), color="tab:blue", label="loss (y − w·x)²")
    shown = finite[np.abs(finite - best_w) <= extent]
    axis.plot(shown, loss(shown, x, y), "-o", color="tab:red", markersize=4, linewidth=1, label="path of w")
    if shown.size:
        axis.plot(shown[:1], loss(shown[:1], x, y), "s", color="black", markersize=6, label="start")
    axis.set(xlabel="weight w", ylabel="loss", title=title or "Gradient descent on the loss curve")
    axis.grid(alpha=0.3)


def learning_rate_path(learning_rate: float, num_steps: int, w_start: float,
                       x: float = X_POINT, y: float = Y_POINT) -> dict:
    """What the widget draws: the path of ``w``, its losses, the error factor and a one-line verdict."""
    path = gradient_descent(w_start, learning_rate, num_steps, x, y)
    with np.errstate(over="ignore", invalid="ignore"):
        losses = loss(path, x, y)
    factor = error_factor(learning_rate, x)
    if abs(factor) < 1:
        verdict = "converges" + (" with oscillation" if factor < 0 else "")
    elif abs(factor) == 1:
        verdict = "neither converges nor diverges"
    else:
        verdict = "diverges"
    return {"path": path, "losses": losses, "factor": factor, "verdict": verdict}


def learning_rate_demo(x: float = X_POINT, y: float = Y_POINT, *, learning_rate: float = 0.02,
                       num_steps: int = 10, w_start: float = 0.0):
    """Sliders for η, the number of steps and the starting w that redraw the path on the loss curve.

    Returns the ``ipywidgets.VBox`` to ``display``. For tests and curious readers
    the box also carries ``.learning_rate_slider``, ``.steps_slider``,
    ``.start_slider`` and ``.result`` (the latest ``learning_rate_path`` dict).
    """
    import ipywidgets as widgets

    learning_rate_slider = widgets.FloatSlider(value=learning_rate, min=0.001, max=0.13, step=0.001,
                                               readout_format=".3f", description="η",
                                               continuous_update=False)
    steps_slider = widgets.IntSlider(value=num_steps, min=0, max=50, description="steps", continuous_update=False)
    start_slider = widgets.FloatSlider(value=w_start, min=-2.0, max=6.0, step=0.1, description="start w",
                                       continuous_update=False)
    output = widgets.Output()
    box = widgets.VBox([widgets.HBox([learning_rate_slider, steps_slider, start_slider]), output])

    def redraw(_change=None):
        result = learning_rate_path(learning_rate_slider.value, steps_slider.value, start_slider.value, x, y)
        box.result = result
        figure, axis = plt.subplots(figsize=(6, 3.6))
        title = (f"η = {learning_rate_slider.value:.3f}: error × {result['factor']:.2f} per step, "
                 f"{result['verdict']}")
        draw_path_on_loss_curve(axis, result["path"], x, y, title=title)
        axis.legend(loc="upper center", fontsize=8)
        figure.tight_layout()
        plt.close(figure)  # shown once, inside the output widget
        box.figure = figure
        # Set the output widget's content directly (not ``with output: display(...)``), so nothing
        # leaks into the cell's own output when the notebook runs without a widget front end (nbval).
        output.outputs = ()
        output.append_display_data(figure)

    for slider in (learning_rate_slider, steps_slider, start_slider):
        slider.observe(redraw, names="value")
    box.learning_rate_slider, box.steps_slider, box.start_slider = learning_rate_slider, steps_slider, start_slider
    redraw()
    return box


# --------------------------------------------------------------------------- many noisy points, a line w·x + b

def make_noisy_line(num_points: int = 256, *, slope: float = 2.0, bias: float = 0.0, noise: float = 0.5,
                    seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Points ``y = slope·x + bias + noise`` with ``x`` uniform in [-2, 2]: (inputs (N,), targets (N,))."""
    if num_points < 1:
        raise ValueError(f"num_points must be at least 1, got {num_points}")
    rng = np.random.default_rng(seed)
    inputs = rng.uniform(-2.0, 2.0, size=num_points)
    targets = slope * inputs + bias + rng.normal(0.0, noise, size=num_points)
    return inputs, targets


def _as_params(params) -> np.ndarray:
    params = np.asarray(params, dtype=np.float64)
    if params.shape != (2,):
        raise ValueError(f"params must be [w, b], shape (2,), got shape {params.shape}")
    return params


def mean_squared_error(params, inputs: np.ndarray, targets: np.ndarray) -> float:
    """Mean over the points of ``(y - (w·x + b))²`` for ``params = [w, b]``."""
    w, b = _as_params(params)
    return float(np.mean((targets - (w * inputs + b)) ** 2))


def mean_squared_error_gradient(params, inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """Gradient of ``mean_squared_error`` with respect to ``[w, b]``, shape (2,).

    With residuals ``r = y - (w·x + b)``: dL/dw = mean(-2·x·r), dL/db = mean(-2·r).
    """
    w, b = _as_params(params)
    residuals = targets - (w * inputs + b)
    return np.array([np.mean(-2.0 * inputs * residuals), np.mean(-2.0 * residuals)])


def sgd_epoch(params, inputs: np.ndarray, targets: np.ndarray, learning_rate: float, batch_size: int,
              order: np.ndarray) -> np.ndarray:
    """One epoch of mini-batch SGD on the line ``w·x + b``; returns the new ``[w, b]`` (the input is not changed).

    ``order`` (N,) is a permutation of the point indices; the batches are
    ``order[0:batch_size]``, ``order[batch_size:2·batch_size]``, ... (the last
    one may be smaller). Each batch: forward pass, cost (mean over the batch),
    backward pass (gradient), update ``params ← params − η·gradient``.
    """
    params = _as_params(params).copy()
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        params = params - learning_rate * mean_squared_error_gradient(params, inputs[batch], targets[batch])
    return params


def train_line(inputs: np.ndarray, targets: np.ndarray, *, learning_rate: float, batch_size: int, num_epochs: int,
               seed: int = 0, fit_bias: bool = True, params_start=(0.0, 0.0)) -> dict:
    """Fit ``w·x + b`` by mini-batch SGD and record the full-data loss after every update.

    ``batch_size = N`` is full-batch gradient descent, ``1`` is stochastic
    gradient descent. With ``fit_bias=False`` the bias stays at its start value.
    Returns a dict: ``params`` (2,), ``loss_per_update`` (1 + number of updates,
    first entry before any update), ``loss_per_epoch`` (num_epochs + 1,),
    ``updates_per_epoch`` and ``samples_per_update``.
    """
    if batch_size < 1:
        raise ValueError(f"batch_size must be at least 1, got {batch_size}")
    rng = np.random.default_rng(seed)
    params = _as_params(params_start).copy()
    loss_per_update = [mean_squared_error(params, inputs, targets)]
    loss_per_epoch = [loss_per_update[0]]
    num_points = len(inputs)
    for _epoch in range(num_epochs):
        order = rng.permutation(num_points)
        for start in range(0, num_points, batch_size):
            batch = order[start:start + batch_size]
            gradient = mean_squared_error_gradient(params, inputs[batch], targets[batch])
            if not fit_bias:
                gradient[1] = 0.0
            params = params - learning_rate * gradient
            loss_per_update.append(mean_squared_error(params, inputs, targets))
        loss_per_epoch.append(loss_per_update[-1])
    return {"params": params, "loss_per_update": np.array(loss_per_update), "loss_per_epoch": np.array(loss_per_epoch),
            "updates_per_epoch": -(-num_points // batch_size), "samples_per_update": min(batch_size, num_points)}


def least_squares_line(inputs: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """The exact best ``[w, b]`` (closed form), to compare gradient descent against."""
    design = np.stack([inputs, np.ones_like(inputs)], axis=1)
    solution, *_ = np.linalg.lstsq(design, targets, rcond=None)
    return solution
