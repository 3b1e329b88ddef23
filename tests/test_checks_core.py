"""course_utils.checks: the numerical helpers and the verdict machinery, and that every check is tested."""

import pathlib

import numpy as np
import pytest

from course_utils import baselines, checks


def test_rel_error():
    assert checks.rel_error([1.0, 2.0], [1.0, 2.0]) == 0
    assert checks.rel_error(np.array([1.0]), np.array([1.0 + 1e-9])) == pytest.approx(5e-10, rel=1e-3)
    assert checks.rel_error([0.0], [0.0]) == 0
    with pytest.raises(ValueError, match="shapes differ"):
        checks.rel_error(np.zeros(3), np.zeros((3, 1)))


def test_numerical_gradient_matches_known_derivative():
    x = np.array([0.3, -1.2, 2.0])
    gradient = checks.numerical_gradient(lambda values: np.sum(np.sin(5 * values)), x)
    assert checks.rel_error(gradient, 5 * np.cos(5 * x)) < 1e-8
    np.testing.assert_array_equal(x, [0.3, -1.2, 2.0])  # restored after nudging
    with pytest.raises(TypeError, match="float array"):
        checks.numerical_gradient(lambda values: 0.0, np.array([1, 2]))


def test_gradient_check_reports(capsys):
    x = np.array([1.0, 2.0])
    good = checks.gradient_check(lambda values: np.sum(values**2), x, 2 * x, name="square")
    assert good < 1e-8 and "✅ square" in capsys.readouterr().out
    bad = checks.gradient_check(lambda values: np.sum(values**2), x, x, name="square")
    assert bad > 0.1 and "❌" in capsys.readouterr().out


def test_run_check_verdicts(capsys):
    cases = [((2,), 4), ((3,), 9)]
    assert checks.run_check("square", lambda v: v * v, cases)
    assert "✅ square: passed 2 cases" in capsys.readouterr().out

    def stub(v):
        raise NotImplementedError

    assert not checks.run_check("square", stub, cases, hint="Multiply.")
    assert "⏳ square: not written yet (it raises NotImplementedError). Multiply." in capsys.readouterr().out
    assert not checks.run_check("square", lambda v: None, cases)
    assert "⏳" in capsys.readouterr().out
    assert not checks.run_check("square", lambda v: v + v, cases)
    assert "❌ square: case 2 of 2 for input 3: expected 9, got 6" in capsys.readouterr().out
    assert not checks.run_check("square", lambda v: 1 / 0, cases)
    assert "ZeroDivisionError" in capsys.readouterr().out
    assert not checks.run_check("square", lambda v: [v * v, 0], cases)
    assert "expected shape ()" in capsys.readouterr().out
    assert not checks.run_check("square", lambda v: float("nan"), cases)
    assert "nan" in capsys.readouterr().out
    assert not checks.run_check("square", 42, cases)
    assert "expected a function" in capsys.readouterr().out
    assert checks.run_check("square", lambda v: v * v * (1 + 1e-9), cases, tolerance=1e-6)


def test_data_basics_checks_accept_reference_and_reject_wrong_answers():
    assert checks.check_class_counts(baselines.class_counts)
    assert not checks.check_class_counts(lambda labels: np.bincount(labels))  # forgets digits that never appear
    assert not checks.check_class_counts(lambda labels: np.bincount(labels, minlength=10)[::-1])
    assert checks.check_nearest_mean_predict(baselines.nearest_mean_predict)
    wrong = lambda images, means: np.abs(images.reshape(len(images), -1) @ means.reshape(len(means), -1).T).argmax(1)
    assert not checks.check_nearest_mean_predict(wrong)  # largest dot product is not the nearest mean
    assert not checks.check_nearest_mean_predict(lambda images, means: np.zeros(len(images), dtype=int))


def test_every_exported_check_has_a_unit_test():
    """A check nobody tested could accept anything: each check_* must be called in some test file."""
    test_sources = "\n".join(path.read_text() for path in pathlib.Path(__file__).parent.glob("test_*.py"))
    untested = [name for name in checks.__all__ if name.startswith("check_") and f"checks.{name}(" not in test_sources]
    assert not untested, f"checks without a unit test: {untested}"


def test_verdict_is_truthy_and_silent_in_jupyter():
    from course_utils.checks.core import Verdict

    assert Verdict(True) and not Verdict(False)
    assert Verdict(True) == True and Verdict(False) == False  # noqa: E712
    assert Verdict(True)._ipython_display_() is None
