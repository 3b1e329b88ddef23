"""course_utils.widgets: each builder redraws when its controls move, driven by page-like functions.

The functions passed in are small versions of what the notebooks write on their pages:
gradient descent on the loss (y − w·x)² with x = 3, y = 6 (notebook 01), numpy
activations (notebook 02), a loop convolution (notebook 04).
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import widgets  # noqa: E402
from course_utils.checks import cnn as cnn_checks  # noqa: E402

X, Y, BEST_W = 3.0, 6.0, 2.0


def loss(w):
    return (Y - np.asarray(w, dtype=float) * X) ** 2


def gradient_descent(w_start, learning_rate, num_steps):
    path = [float(w_start)]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(num_steps):
            w = path[-1]
            path.append(w - learning_rate * (-2.0 * X * (Y - w * X)))
    return np.array(path)


ACTIVATIONS = {
    "sigmoid": lambda z: 1.0 / (1.0 + np.exp(-z)),
    "tanh": np.tanh,
    "relu": lambda z: np.maximum(z, 0.0),
}


def conv2d(image, kernel):
    """The loop convolution the kernel explorer expects (one channel, stride 1, no padding, kernel not flipped),
    from the reference of notebook 04's multi-channel conv2d exercise: image (H, W), kernel (kH, kW)."""
    return cnn_checks._conv2d(image[None], kernel[None, None])[0]


@pytest.fixture(autouse=True, scope="module")
def figures_as_png():
    """Render figures as PNG when displayed, as the inline backend does in a notebook kernel."""
    from IPython.core.interactiveshell import InteractiveShell
    from matplotlib.figure import Figure
    from matplotlib_inline.backend_inline import select_figure_formats

    shell = InteractiveShell.instance()
    select_figure_formats(shell, {"png"})
    yield
    for formatter in shell.display_formatter.formatters.values():
        formatter.pop(Figure, None)


def _one_image_shown(box) -> None:
    """The box's output holds exactly one picture: the last figure drawn."""
    outputs = box.output.outputs
    assert len(outputs) == 1, f"the output holds {len(outputs)} items, not one picture"
    assert outputs[0]["output_type"] == "display_data" and outputs[0]["data"].get("image/png")


# ------------------------------------------------------------------ notebook 01: learning rates

def test_learning_rate_explorer_recomputes_the_path_when_sliders_move():
    box = widgets.learning_rate_explorer(gradient_descent, loss, BEST_W)
    assert set(box.controls) == {"learning_rate", "num_steps", "w_start"}
    np.testing.assert_allclose(box.result["path"], gradient_descent(0.0, 0.02, 10))
    _one_image_shown(box)
    box.controls["learning_rate"].value = 0.1
    box.controls["num_steps"].value = 4
    box.controls["w_start"].value = 1.0
    np.testing.assert_allclose(box.result["path"], gradient_descent(1.0, 0.1, 4))
    assert box.result["factor"] == pytest.approx(1 - 2 * 0.1 * X ** 2)
    assert box.result["verdict"] == "converges with oscillation"
    np.testing.assert_allclose(box.result["losses"], loss(box.result["path"]))
    box.controls["learning_rate"].value = 0.12
    assert box.result["verdict"] == "diverges" and len(box.result["path"]) == 5
    _one_image_shown(box)
    # the figure shows the path that was computed
    axis = box.figure.axes[0]
    path_line = [line for line in axis.lines if line.get_label() == "path of w"][0]
    np.testing.assert_allclose(path_line.get_xdata(), box.result["path"])
    assert "diverges" in axis.get_title()


@pytest.mark.parametrize("learning_rate, verdict", [
    (0.02, "converges"),                           # factor 1 − 2·η·x² = 0.64
    (0.1, "converges with oscillation"),           # −0.8
    (1 / 9, "neither converges nor diverges"),     # −1: bounces between 0 and 4 for ever
    (0.12, "diverges"),                            # −1.16
])
def test_learning_rate_verdicts(learning_rate, verdict):
    box = widgets.learning_rate_explorer(gradient_descent, loss, BEST_W)
    box.controls["learning_rate"].value = learning_rate
    assert box.result["verdict"] == verdict
    assert box.result["factor"] == pytest.approx(1 - 2 * learning_rate * X ** 2)


def test_learning_rate_explorer_draws_a_diverging_path_without_raising():
    box = widgets.learning_rate_explorer(gradient_descent, loss, BEST_W, learning_rate=0.13, num_steps=50)
    assert box.result["verdict"] == "diverges"
    assert np.isfinite(box.result["path"][0])
    _one_image_shown(box)


def test_learning_rate_explorer_with_zero_steps_shows_the_start_only():
    box = widgets.learning_rate_explorer(gradient_descent, loss, BEST_W, num_steps=0, w_start=1.0)
    np.testing.assert_allclose(box.result["path"], [1.0])


# ------------------------------------------------------------------ notebook 02: activations

def test_activation_explorer_redraws_when_driven():
    box = widgets.activation_explorer(ACTIVATIONS, activation="sigmoid", weight=1.0, bias=0.0)
    inputs = widgets.PLAYGROUND_INPUTS
    np.testing.assert_allclose(box.result["outputs"], ACTIVATIONS["sigmoid"](inputs))
    box.controls["weight"].value = 3.0
    box.controls["bias"].value = -2.0
    np.testing.assert_allclose(box.result["outputs"], ACTIVATIONS["sigmoid"](3.0 * inputs - 2.0))
    box.controls["activation"].value = "relu"
    np.testing.assert_allclose(box.result["outputs"], np.maximum(3.0 * inputs - 2.0, 0.0))
    np.testing.assert_allclose(box.result["inputs"], inputs)
    axis = box.figure.axes[0]
    assert axis.get_title() == "relu: y = g(3.0·x + -2.0)"
    np.testing.assert_allclose(axis.lines[0].get_ydata(), box.result["outputs"])
    _one_image_shown(box)


def test_activation_explorer_offers_exactly_the_page_functions():
    box = widgets.activation_explorer(ACTIVATIONS, activation="tanh")
    assert list(box.controls["activation"].options) == list(ACTIVATIONS)


def test_activation_explorer_rejects_unknown_activation():
    with pytest.raises(ValueError, match="unknown activation 'swish'.*sigmoid, tanh, relu"):
        widgets.activation_explorer(ACTIVATIONS, activation="swish")


# ------------------------------------------------------------------ notebook 04: kernels

@pytest.fixture
def digit():
    return np.random.default_rng(3).random((12, 12))


def _draws(box):
    """Count the redraws of ``box`` from now on."""
    calls = []
    original = box.output.append_display_data

    def counting(figure):
        calls.append(figure)
        original(figure)

    box.output.append_display_data = counting
    return calls


def test_kernel_explorer_recomputes_when_driven(digit):
    box = widgets.kernel_explorer(digit, conv2d, start="identity")
    assert set(box.controls) == {f"k{r}{c}" for r in range(3) for c in range(3)} | {"relu"}
    np.testing.assert_allclose(box.result["feature_map"], digit)   # padded by one: the map keeps the image's size
    box.controls["k11"].value = 2.0                                 # typing a number recomputes the map
    np.testing.assert_allclose(box.result["feature_map"], 2 * digit)
    np.testing.assert_array_equal(box.kernel(), 2 * widgets.KERNELS["identity"])
    np.testing.assert_array_equal(box.result["kernel"], box.kernel())
    box.controls["k01"].value = 1.0                                 # row 0, column 1: the pixel above
    expected = 2 * digit
    expected[1:] += digit[:-1]
    np.testing.assert_allclose(box.result["feature_map"], expected)
    _one_image_shown(box)


def test_preset_sets_all_nine_boxes_and_redraws_once(digit):
    box = widgets.kernel_explorer(digit, conv2d, start="identity")
    draws = _draws(box)
    box.preset.value = "vertical edge"
    kernel = widgets.KERNELS["vertical edge"]
    assert [box.controls[f"k{r}{c}"].value for r in range(3) for c in range(3)] == kernel.ravel().tolist()
    assert len(draws) == 1, f"choosing a preset redrew {len(draws)} times"
    np.testing.assert_array_equal(box.result["kernel"], kernel)
    np.testing.assert_allclose(box.result["feature_map"], conv2d(np.pad(digit, 1), kernel))
    assert box.result["feature_map"].min() < 0                      # an edge detector answers both signs
    _one_image_shown(box)


def test_relu_tick_gives_a_non_negative_map(digit):
    box = widgets.kernel_explorer(digit, conv2d, start="vertical edge")
    before = box.result["feature_map"]
    box.controls["relu"].value = True
    assert box.result["feature_map"].min() >= 0
    np.testing.assert_allclose(box.result["feature_map"], np.maximum(before, 0))
    assert "after ReLU" in box.figure.axes[1].get_title()
    _one_image_shown(box)


def test_every_preset_is_a_3_by_3_kernel():
    assert "vertical edge" in widgets.KERNELS and "identity" in widgets.KERNELS
    for name, kernel in widgets.KERNELS.items():
        assert kernel.shape == (3, 3), name


def test_kernel_explorer_rejects_unknown_preset():
    with pytest.raises(ValueError, match="unknown preset 'sharpen'.*identity.*vertical edge"):
        widgets.kernel_explorer(np.zeros((5, 5)), conv2d, start="sharpen")
