"""The exercise checks of every notebook: each accepts a correct answer and rejects plausible wrong ones.

A check that accepts anything teaches nothing, so every check here is shown at least one
mistake a learner could make (a wrong shape, an off-by-one, a forgotten term, a flipped
kernel...). The correct answers are the private references kept beside each check
(``checks.<topic>._<name>``) or small implementations written in the test.
"""

from __future__ import annotations

import pytest

from course_utils import checks
from course_utils.checks import baselines as baseline_checks
from course_utils.checks import cnn as cnn_checks
from course_utils.checks import gradient_descent as gd_checks
from course_utils.checks import mlp as mlp_checks
from course_utils.checks import numpy_nets as nn_checks
from course_utils.checks import production as production_checks
from course_utils.checks import rnn as rnn_checks

ALL_CHECKS = sorted(name for name in checks.__all__ if name.startswith("check_"))


def _not_written(*args):
    raise NotImplementedError


def _returns_none(*args):
    return None


def _crashes(*args):
    raise RuntimeError("a bug in the learner's code")


# ------------------------------------------------------------------ every check

def test_every_exported_name_is_importable_and_callable():
    import course_utils.checks as package

    assert len(set(checks.__all__)) == len(checks.__all__)
    for name in checks.__all__:
        assert callable(getattr(package, name)), name
    assert len(ALL_CHECKS) >= 20


def test_each_topic_module_exports_its_checks_to_the_package():
    for module in (baseline_checks, cnn_checks, gd_checks, mlp_checks, nn_checks, production_checks, rnn_checks):
        for name in module.__all__:
            assert getattr(checks, name) is getattr(module, name), f"{module.__name__}.{name}"


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_check_never_raises_on_an_unfinished_or_broken_answer(name, capsys):
    check = getattr(checks, name)
    assert not check(_not_written)
    assert "not written yet" in capsys.readouterr().out
    assert not check(_returns_none)
    assert "not written yet" in capsys.readouterr().out
    assert not check(_crashes)
    assert "RuntimeError" in capsys.readouterr().out
    assert not check(42)
    assert not check("not a function")
    assert not check(None)


# Every notebook's checks name the common mistakes of their exercises.
MODULES_NAMING_MISTAKES = checks.TOPIC_MODULES
CHECKS_NAMING_MISTAKES = [(module.__name__.rsplit(".", 1)[-1], name)
                          for module in MODULES_NAMING_MISTAKES for name in module.__all__ if name.startswith("check_")]


@pytest.mark.parametrize("topic, name", CHECKS_NAMING_MISTAKES)
def test_a_check_recognises_at_least_two_named_mistakes_and_names_each(topic, name, capsys):
    check = getattr(checks, name)
    mistakes = getattr(check, "mistakes", ())
    assert len(mistakes) >= 2, f"{name} must recognise at least two named mistakes (decorate it with @recognising)"
    for mistake in mistakes:
        assert not check(mistake.wrong), f"{name} accepted the mistake {mistake.diagnosis!r}"
        out = capsys.readouterr().out
        assert mistake.diagnosis in out, f"{name} did not name the mistake {mistake.diagnosis!r}; it printed:\n{out}"


@pytest.mark.parametrize("topic, name", CHECKS_NAMING_MISTAKES)
def test_a_check_says_what_to_start_with_while_the_function_is_unwritten(topic, name, capsys):
    check = getattr(checks, name)
    assert not check(_not_written)
    line = capsys.readouterr().out.strip()
    assert line.startswith("⏳") and len(line.split("NotImplementedError).", 1)[-1].strip()) > 20, (
        f"{name}: the ⏳ line should say what to start with, got {line!r}")
