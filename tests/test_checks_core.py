"""course_utils.checks: the numerical helpers and the verdict machinery, and that every check is tested."""

import pathlib

import numpy as np
import pytest

from course_utils import checks


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


def test_run_check_names_a_recognised_mistake_and_shows_the_start_hint(capsys):
    cases = [((2.0,), 4.0), ((3.0,), 9.0)]
    mistakes = [checks.Mistake("doubled instead of squared: look at the operator", lambda v: 2 * v),
                checks.Mistake("sign flipped", lambda v: -v * v)]
    assert not checks.run_check("square", lambda v: v + v, cases, mistakes=mistakes, hint="generic hint")
    out = capsys.readouterr().out
    assert "doubled instead of squared" in out and "generic hint" not in out
    assert not checks.run_check("square", lambda v: -(v ** 2), cases, mistakes=mistakes)
    assert "sign flipped" in capsys.readouterr().out
    assert not checks.run_check("square", lambda v: v ** 3, cases, mistakes=mistakes, hint="generic hint")
    out = capsys.readouterr().out
    assert "expected 4, got 8" in out and "generic hint" in out      # no known mistake: what was expected, and the hint

    def stub(v):
        raise NotImplementedError

    assert not checks.run_check("square", stub, cases, start="Begin with v times v.", hint="generic hint")
    out = capsys.readouterr().out
    assert "⏳" in out and "Begin with v times v." in out and "generic hint" not in out


def test_run_check_hands_the_learner_copies_of_its_inputs():
    shared = np.array([1.0, 2.0, 3.0])
    cases = [((shared,), np.array([1.0, 4.0, 9.0]))]

    def squares_in_place(values):
        values **= 2          # writes into its input
        return values

    assert checks.run_check("squares", squares_in_place, cases)
    assert checks.run_check("squares", squares_in_place, cases)      # the second run sees the same inputs
    np.testing.assert_array_equal(shared, [1.0, 2.0, 3.0])


def test_a_mistake_that_cannot_run_on_an_input_is_skipped(capsys):
    def crashes(v):
        raise ValueError("not for this input")

    mistakes = [checks.Mistake("never this", crashes), checks.Mistake("off by one", lambda v: v * v + 1)]
    assert not checks.run_check("square", lambda v: v * v + 1, [((2.0,), 4.0)], mistakes=mistakes)
    assert "off by one" in capsys.readouterr().out


def test_use_if_passed_runs_the_learners_function_only_after_its_check_passed(capsys):
    def mine(v):
        return v

    def reference(v):
        return v

    assert checks.use_if_passed(checks.core.Verdict(True), mine, reference) is mine
    assert "Using your mine." in capsys.readouterr().out
    assert checks.use_if_passed(checks.core.Verdict(False), mine, reference) is reference
    assert "has not passed its check yet" in capsys.readouterr().out


def test_recognising_records_the_mistakes_on_the_check():
    mistake = checks.Mistake("sign flipped", lambda v: -v)

    @checks.recognising(mistake)
    def check_negation(function):
        return checks.run_check("negation", function, [((1.0,), 1.0)], mistakes=check_negation.mistakes)

    assert check_negation.mistakes == (mistake,)
    assert not check_negation(lambda v: -v)
