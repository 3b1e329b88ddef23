"""The course's interactive widgets, all built one way and all driven by the notebook's own functions.

Each builder takes the functions the notebook wrote on its page, lays out
controls above a picture, and returns the ``ipywidgets.VBox`` to ``display``.
The box carries, for tests and curious readers:

    box.controls   name -> the ipywidgets control (set ``.value`` to move it)
    box.result     what the last redraw computed (a dict)
    box.figure     the last matplotlib Figure drawn
    box.redraw()   compute and draw again

    widgets.learning_rate_explorer(gradient_descent, loss, best_w=2.0)     # notebook 01
    widgets.activation_explorer({"sigmoid": sigmoid, "relu": relu})         # notebook 02
    widgets.kernel_explorer(digit, conv2d)                                  # notebook 04
"""

from __future__ import annotations

from typing import Callable

import matplotlib.pyplot as plt
import numpy as np


def _assemble(rows: list, controls: dict, draw: Callable[[dict], tuple]):
    """Stack ``rows`` of widgets above an Output; redraw whenever one of ``controls`` changes.

    ``draw(values)`` gets ``{name: control.value}`` and returns ``(figure, result)``.
    While ``box.paused`` is true, changes do not redraw (to set several controls at once).
    """
    import ipywidgets as widgets

    output = widgets.Output()
    box = widgets.VBox([*rows, output])
    box.controls, box.output, box.figure, box.result, box.paused = controls, output, None, None, False

    def redraw(_change=None) -> None:
        if box.paused:
            return
        figure, box.result = draw({name: control.value for name, control in controls.items()})
        plt.close(figure)  # shown once, inside the output widget
        box.figure = figure
        # Set the output's content directly (not ``with output: display(...)``), so nothing leaks into
        # the cell's own output when the notebook runs without a widget front end (nbval).
        output.outputs = ()
        output.append_display_data(figure)

    for control in controls.values():
        control.observe(redraw, names="value")
    box.redraw = redraw
    redraw()
    return box


# --------------------------------------------------------------------------- notebook 01: learning rates

def _verdict(factor: float) -> str:
    if np.isclose(abs(factor), 1.0):
        return "neither converges nor diverges"
    if abs(factor) < 1:
        return "converges" + (" with oscillation" if factor < 0 else "")
    return "diverges"


def _draw_descent(loss: Callable, path: np.ndarray, best_w: float, title: str, max_extent: float = 50.0):
    figure, axis = plt.subplots(figsize=(6, 3.6))
    finite = path[np.isfinite(path)]
    extent = float(np.max(np.abs(finite - best_w))) if finite.size else 1.0
    extent = min(max(extent * 1.15, 1.5), max_extent)
    weights = np.linspace(best_w - extent, best_w + extent, 400)
    axis.plot(weights, loss(weights), color="tab:blue", label="loss")
    shown = finite[np.abs(finite - best_w) <= extent]
    axis.plot(shown, loss(shown), "-o", color="tab:red", markersize=4, linewidth=1, label="path of w")
    if shown.size:
        axis.plot(shown[:1], loss(shown[:1]), "s", color="black", markersize=6, label="start")
    axis.set(xlabel="weight w", ylabel="loss", title=title)
    axis.grid(alpha=0.3)
    axis.legend(loc="upper center", fontsize=8)
    figure.tight_layout()
    return figure


def learning_rate_explorer(gradient_descent: Callable, loss: Callable, best_w: float, *,
                           learning_rate: float = 0.02, num_steps: int = 10, w_start: float = 0.0):
    """Sliders for η, the number of steps and the starting w; draws the path of w on the loss curve.

    gradient_descent(w_start, learning_rate, num_steps) -> array of the num_steps + 1 values of w
    loss(w) -> the loss at w (w may be an array), best_w -> where the loss is smallest.
    The title gives the measured error factor |w₁ − w*| / |w₀ − w*| of the first step.
    ``box.result``: {"path", "losses", "factor", "verdict"}.
    """
    import ipywidgets as widgets

    controls = {
        "learning_rate": widgets.FloatSlider(value=learning_rate, min=0.001, max=0.13, step=0.001, readout_format=".3f",
                                             description="η", continuous_update=False),
        "num_steps": widgets.IntSlider(value=num_steps, min=0, max=50, description="steps", continuous_update=False),
        "w_start": widgets.FloatSlider(value=w_start, min=-2.0, max=6.0, step=0.1, description="start w",
                                       continuous_update=False),
    }

    def draw(values: dict):
        path = np.asarray(gradient_descent(values["w_start"], values["learning_rate"], max(values["num_steps"], 1)), dtype=float)
        with np.errstate(over="ignore", invalid="ignore"):
            factor = (path[1] - best_w) / (path[0] - best_w) if path[0] != best_w else 0.0
            path = path[: values["num_steps"] + 1]
            result = {"path": path, "losses": loss(path), "factor": float(factor), "verdict": _verdict(factor)}
        title = f"η = {values['learning_rate']:.3f}: error × {factor:.2f} per step, {result['verdict']}"
        return _draw_descent(loss, path, best_w, title), result

    return _assemble([widgets.HBox(list(controls.values()))], controls, draw)


# --------------------------------------------------------------------------- notebook 02: activations

PLAYGROUND_INPUTS = np.linspace(-5.0, 5.0, 201)


def activation_explorer(activations: dict, *, activation: str = "sigmoid", weight: float = 1.0, bias: float = 0.0):
    """A menu of activations and sliders for weight and bias; draws the one-input neuron y = g(w·x + b).

    activations: name -> function g of a numpy array. ``box.result``: {"inputs", "outputs"} of the curve drawn.
    """
    import ipywidgets as widgets

    if activation not in activations:
        raise ValueError(f"unknown activation {activation!r}; choose one of {', '.join(activations)}")
    controls = {
        "activation": widgets.Dropdown(options=list(activations), value=activation, description="activation"),
        "weight": widgets.FloatSlider(value=weight, min=-5.0, max=5.0, step=0.1, description="weight w"),
        "bias": widgets.FloatSlider(value=bias, min=-5.0, max=5.0, step=0.1, description="bias b"),
    }

    def draw(values: dict):
        function = activations[values["activation"]]
        outputs = function(values["weight"] * PLAYGROUND_INPUTS + values["bias"])
        figure, axis = plt.subplots(figsize=(5.5, 3.2))
        axis.plot(PLAYGROUND_INPUTS, outputs, lw=2, label="y = g(w·x + b)")
        axis.plot(PLAYGROUND_INPUTS, function(PLAYGROUND_INPUTS), "--", color="gray", lw=1, label="w = 1, b = 0")
        axis.set(xlabel="input x", ylabel="neuron output y", ylim=(-1.6, 5.2),
                 title=f"{values['activation']}: y = g({values['weight']:.1f}·x + {values['bias']:.1f})")
        axis.grid(alpha=0.3)
        axis.legend(loc="upper left", fontsize=8)
        return figure, {"inputs": PLAYGROUND_INPUTS, "outputs": outputs}

    return _assemble([widgets.HBox(list(controls.values()))], controls, draw)


# --------------------------------------------------------------------------- notebook 04: 3×3 kernels

KERNELS: dict[str, np.ndarray] = {
    "identity": np.array([[0, 0, 0], [0, 1, 0], [0, 0, 0]], dtype=float),
    "all zeros": np.zeros((3, 3)),
    "large (all 5)": np.full((3, 3), 5.0),
    "vertical edge": np.array([[-1, 0, 1], [-1, 0, 1], [-1, 0, 1]], dtype=float),
    "horizontal edge": np.array([[-1, -1, -1], [0, 0, 0], [1, 1, 1]], dtype=float),
    "vertical line": np.array([[-1, 2, -1], [-1, 2, -1], [-1, 2, -1]], dtype=float),
    "horizontal line": np.array([[-1, -1, -1], [2, 2, 2], [-1, -1, -1]], dtype=float),
    "blur": np.full((3, 3), 1 / 9),
    "slides' [0 1 0] pattern": np.array([[0, 1, 0], [0, 1, 0], [0, 1, 0]], dtype=float),
    "slides' [-1 1 0] pattern": np.array([[0, 0, 0], [-1, 1, 0], [0, 0, 0]], dtype=float),
}


def _draw_feature_map(image: np.ndarray, feature_map: np.ndarray, after_relu: bool):
    figure, (left, right) = plt.subplots(1, 2, figsize=(7, 3.4))
    left.imshow(image, cmap="gray")
    left.set_title("input digit (pixels 0..1)")
    limit = max(float(np.abs(feature_map).max()), 1e-9)
    shown = right.imshow(feature_map, cmap="gray", vmin=0 if after_relu else -limit, vmax=limit)
    right.set_title("feature map" + (" after ReLU" if after_relu else "") + "\nblack = negative, white = positive")
    for axis in (left, right):
        axis.set(xlabel="column (pixel)", ylabel="row (pixel)")
    figure.colorbar(shown, ax=right, label="response")
    figure.tight_layout()
    return figure


def kernel_explorer(image, conv2d: Callable, *, start: str = "vertical edge"):
    """A 3×3 grid of number boxes, a preset menu and a ReLU switch; draws the digit and its feature map.

    image (H, W) pixels 0..1; conv2d(image, kernel) -> (H−2, W−2) for a 3×3 kernel (stride 1, no padding):
    the image is padded by one pixel of zeros first, so the map keeps the image's size.
    ``box.controls`` holds "k00" … "k22" (row, column) and "relu"; ``box.preset`` is the menu;
    ``box.kernel()`` the current 3×3 array; ``box.result``: {"kernel", "feature_map"}.
    """
    import ipywidgets as widgets

    image = np.asarray(image, dtype=np.float64)
    if start not in KERNELS:
        raise ValueError(f"unknown preset {start!r}; choose one of {', '.join(KERNELS)}")
    controls = {f"k{r}{c}": widgets.FloatText(value=float(KERNELS[start][r, c]), step=0.5, layout=widgets.Layout(width="70px"))
                for r in range(3) for c in range(3)}
    controls["relu"] = widgets.Checkbox(value=False, description="ReLU on the feature map")
    preset = widgets.Dropdown(options=list(KERNELS), value=start, description="preset")
    kernel_of = lambda values: np.array([[values[f"k{r}{c}"] for c in range(3)] for r in range(3)], dtype=float)

    def draw(values: dict):
        kernel = kernel_of(values)
        feature_map = np.asarray(conv2d(np.pad(image, 1), kernel), dtype=np.float64)
        if values["relu"]:
            feature_map = np.maximum(feature_map, 0.0)
        return _draw_feature_map(image, feature_map, values["relu"]), {"kernel": kernel, "feature_map": feature_map}

    grid = widgets.GridBox([controls[f"k{r}{c}"] for r in range(3) for c in range(3)],
                           layout=widgets.Layout(grid_template_columns="repeat(3, 75px)"))
    top = widgets.HBox([widgets.VBox([widgets.Label("kernel (3×3)"), grid]), widgets.VBox([preset, controls["relu"]])])
    box = _assemble([top], controls, draw)

    def load_preset(change) -> None:
        box.paused = True
        try:
            for r in range(3):
                for c in range(3):
                    controls[f"k{r}{c}"].value = float(KERNELS[change["new"]][r, c])
        finally:
            box.paused = False
        box.redraw()

    preset.observe(load_preset, names="value")
    box.preset = preset
    box.kernel = lambda: kernel_of({name: control.value for name, control in controls.items()})
    return box
