"""Unit tests for course_utils.gradient_descent and its exercise checks (notebook 01)."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pytest  # noqa: E402

from course_utils import checks  # noqa: E402
from course_utils import gradient_descent as gd  # noqa: E402


# ---------------------------------------------------------------- one point

def test_loss_and_gradient_at_known_points():
    assert gd.loss(2.0) == 0.0
    assert gd.loss(0.0) == 36.0
    assert gd.loss_gradient(0.0) == -36.0  # -2·3·(6 - 0)
    assert gd.loss_gradient(2.0) == 0.0
    np.testing.assert_allclose(gd.loss_gradient(np.array([1.0, 3.0])), [-18.0, 18.0])


@pytest.mark.parametrize("w", [-1.0, 0.0, 1.3, 2.0, 4.5])
def test_finite_difference_slope_matches_derived_gradient(w):
    assert gd.finite_difference_slope(gd.loss, w) == pytest.approx(float(gd.loss_gradient(w)), abs=1e-6)


def test_finite_difference_slope_rejects_bad_step():
    with pytest.raises(ValueError, match="step must be positive"):
        gd.finite_difference_slope(gd.loss, 1.0, step=0.0)


def test_gradient_descent_path_first_steps_and_convergence():
    path = gd.gradient_descent(0.0, 0.02, 3)
    np.testing.assert_allclose(path, [0.0, 0.72, 1.1808, 1.475712])
    long_path = gd.gradient_descent(0.0, 0.05, 100)
    assert long_path.shape == (101,)
    assert abs(long_path[-1] - 2.0) < 1e-8


def test_error_is_multiplied_by_the_factor_each_step():
    for learning_rate in (0.01, 0.08, 0.1, 0.12):
        errors = gd.gradient_descent(0.0, learning_rate, 5) - 2.0
        np.testing.assert_allclose(errors[1:] / errors[:-1], gd.error_factor(learning_rate))


def test_gradient_descent_diverges_without_raising():
    path = gd.gradient_descent(0.0, 5.0, 400)
    assert not np.isfinite(path[-1])


@pytest.mark.parametrize("learning_rate, num_steps", [(-0.1, 5), (float("nan"), 5), (0.1, -1), (0.1, 2.5)])
def test_gradient_descent_rejects_bad_arguments(learning_rate, num_steps):
    with pytest.raises(ValueError):
        gd.gradient_descent(0.0, learning_rate, num_steps)


def test_stability_bound_found_by_experiment_matches_formula():
    assert gd.largest_stable_learning_rate(3.0, 6.0) == pytest.approx(1 / 9)
    assert gd.find_largest_stable_learning_rate(3.0, 6.0) == pytest.approx(1 / 9, rel=1e-6)
    assert gd.find_largest_stable_learning_rate(0.5, 1.0) == pytest.approx(4.0, rel=1e-6)  # edge above 1
    assert gd.is_stable(0.11) and not gd.is_stable(0.112)
    with pytest.raises(ValueError, match="x = 0"):
        gd.largest_stable_learning_rate(0.0, 1.0)


def test_draw_path_on_loss_curve_handles_divergence():
    figure, axis = plt.subplots()
    gd.draw_path_on_loss_curve(axis, gd.gradient_descent(0.0, 5.0, 400), title="diverging")
    assert axis.get_title() == "diverging" and axis.get_xlabel() and axis.get_ylabel()
    plt.close(figure)


# ---------------------------------------------------------------- the widget

def test_learning_rate_demo_recomputes_the_path_when_sliders_move():
    box = gd.learning_rate_demo()
    np.testing.assert_allclose(box.result["path"], gd.gradient_descent(0.0, 0.02, 10))
    box.learning_rate_slider.value = 0.1
    box.steps_slider.value = 4
    box.start_slider.value = 1.0
    np.testing.assert_allclose(box.result["path"], gd.gradient_descent(1.0, 0.1, 4))
    assert box.result["factor"] == pytest.approx(1 - 2 * 0.1 * 9)
    assert box.result["verdict"] == "converges with oscillation"
    box.learning_rate_slider.value = 0.12
    assert box.result["verdict"] == "diverges"
    assert len(box.result["path"]) == 5
    np.testing.assert_allclose(box.result["losses"], gd.loss(box.result["path"]))
    # the figure shows the path that was computed
    path_line = [line for line in box.figure.axes[0].lines if line.get_label() == "path of w"][0]
    np.testing.assert_allclose(path_line.get_xdata(), box.result["path"])
    assert "diverges" in box.figure.axes[0].get_title()


def test_learning_rate_path_verdicts():
    assert gd.learning_rate_path(0.01, 3, 0.0)["verdict"] == "converges"
    assert gd.learning_rate_path(1 / 9, 3, 0.0)["verdict"] in ("neither converges nor diverges", "diverges", "converges with oscillation")
    assert gd.learning_rate_path(0.2, 3, 0.0)["verdict"] == "diverges"


# ---------------------------------------------------------------- many points

def test_make_noisy_line_is_deterministic_and_shaped():
    inputs, targets = gd.make_noisy_line(50, bias=1.0, seed=7)
    again, _ = gd.make_noisy_line(50, bias=1.0, seed=7)
    assert inputs.shape == targets.shape == (50,)
    np.testing.assert_array_equal(inputs, again)
    with pytest.raises(ValueError):
        gd.make_noisy_line(0)


def test_mean_squared_error_gradient_matches_numerical_gradient():
    inputs, targets = gd.make_noisy_line(40, bias=1.0, seed=1)
    params = np.array([0.3, -0.2])
    numeric = checks.numerical_gradient(lambda p: gd.mean_squared_error(p, inputs, targets), params.copy())
    assert checks.rel_error(gd.mean_squared_error_gradient(params, inputs, targets), numeric) < 1e-7


def test_params_must_have_two_entries():
    with pytest.raises(ValueError, match=r"\[w, b\]"):
        gd.mean_squared_error(np.array([1.0]), np.zeros(3), np.zeros(3))


def test_sgd_epoch_full_batch_equals_one_gradient_step_and_does_not_modify_input():
    inputs, targets = gd.make_noisy_line(30, seed=2)
    params = np.array([0.0, 0.0])
    new = gd.sgd_epoch(params, inputs, targets, 0.1, 30, np.arange(30))
    np.testing.assert_allclose(new, -0.1 * gd.mean_squared_error_gradient(params, inputs, targets))
    np.testing.assert_array_equal(params, [0.0, 0.0])
    with pytest.raises(ValueError):
        gd.sgd_epoch(params, inputs, targets, 0.1, 0, np.arange(30))


def test_train_line_reaches_least_squares_and_counts_updates():
    inputs, targets = gd.make_noisy_line(256, bias=1.0)
    best = gd.least_squares_line(inputs, targets)
    run = gd.train_line(inputs, targets, learning_rate=0.05, batch_size=32, num_epochs=20)
    assert run["updates_per_epoch"] == 8 and run["samples_per_update"] == 32
    assert run["loss_per_update"].shape == (1 + 20 * 8,)
    assert run["loss_per_epoch"].shape == (21,)
    np.testing.assert_allclose(run["params"], best, atol=0.05)
    no_bias = gd.train_line(inputs, targets, learning_rate=0.05, batch_size=256, num_epochs=5, fit_bias=False)
    assert no_bias["params"][1] == 0.0
    with pytest.raises(ValueError):
        gd.train_line(inputs, targets, learning_rate=0.05, batch_size=0, num_epochs=1)


# ---------------------------------------------------------------- the checks

def _not_written(*args):
    raise NotImplementedError


def test_check_loss_gradient_accepts_reference_and_rejects_wrong_answers(capsys):
    assert checks.check_loss_gradient(gd.loss_gradient)
    assert not checks.check_loss_gradient(lambda w, x, y: 2 * x * (y - w * x))  # sign error
    assert not checks.check_loss_gradient(lambda w, x, y: -x * (y - w * x))  # forgot the 2
    assert not checks.check_loss_gradient(lambda w, x, y: -2 * (y - w * x))  # forgot the inner derivative x
    assert not checks.check_loss_gradient(_not_written)
    assert "⏳" in capsys.readouterr().out


def test_check_largest_stable_learning_rate_accepts_search_and_rejects_wrong_answers():
    assert checks.check_largest_stable_learning_rate(gd.find_largest_stable_learning_rate)
    assert checks.check_largest_stable_learning_rate(gd.largest_stable_learning_rate)
    assert not checks.check_largest_stable_learning_rate(lambda x, y: 2 / x ** 2)  # the 1 - 2ηx² > 0 edge doubled
    assert not checks.check_largest_stable_learning_rate(lambda x, y: 1 / (2 * x ** 2))  # the no-oscillation edge
    assert not checks.check_largest_stable_learning_rate(_not_written)


def _sgd_epoch_sum_not_mean(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=float)
    for start in range(0, len(order), batch_size):
        batch = order[start:start + batch_size]
        params = params - learning_rate * len(batch) * gd.mean_squared_error_gradient(params, inputs[batch], targets[batch])
    return params


def _sgd_epoch_drops_last_batch(params, inputs, targets, learning_rate, batch_size, order):
    params = np.array(params, dtype=float)
    for start in range(0, len(order) - batch_size + 1, batch_size):
        batch = order[start:start + batch_size]
        params = params - learning_rate * gd.mean_squared_error_gradient(params, inputs[batch], targets[batch])
    return params


def _sgd_epoch_ignores_order(params, inputs, targets, learning_rate, batch_size, order):
    return gd.sgd_epoch(params, inputs, targets, learning_rate, batch_size, np.arange(len(order)))


def test_check_sgd_epoch_accepts_reference_and_rejects_wrong_answers():
    assert checks.check_sgd_epoch(gd.sgd_epoch)
    for wrong in (_sgd_epoch_sum_not_mean, _sgd_epoch_drops_last_batch, _sgd_epoch_ignores_order, _not_written):
        assert not checks.check_sgd_epoch(wrong), wrong.__name__
