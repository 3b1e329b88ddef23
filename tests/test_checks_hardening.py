"""Every exercise check survives a careless or hostile learner: it never raises, never hangs, never floods the output.

Each test here runs against every ``check_*`` of every notebook, with learner functions that write into their
inputs, raise exceptions that cannot even be printed, call ``sys.exit``, loop forever, print 300,000 lines,
or return text, complex numbers or things numpy cannot read.
"""

from __future__ import annotations

import faulthandler
import importlib
import sys
import time

import numpy as np
import pytest
import torch

from course_utils import checks
from course_utils.checks import core

ALL_CHECKS = sorted(name for name in checks.__all__ if name.startswith("check_"))
MAX_PRINTED = core.PRINTED_LIMIT_CHARACTERS + 2 * core.MESSAGE_LIMIT_CHARACTERS + 1000


@pytest.fixture(autouse=True)
def _never_hang_the_suite():
    """A backstop: a check that ignored its time limit would otherwise hang CI; this ends the run with a traceback."""
    faulthandler.dump_traceback_later(600, exit=True, file=sys.__stderr__)
    yield
    faulthandler.cancel_dump_traceback_later()


def _reference(name: str):
    """The reference answer kept beside the check: ``_<name>`` in the check's module."""
    module = importlib.import_module(getattr(checks, name).__module__)
    reference = getattr(module, "_" + name[len("check_"):], None)
    assert callable(reference), f"{module.__name__} should keep the reference answer of {name} as _{name[6:]}"
    return reference


def _spoil(value) -> None:
    """Write garbage into ``value`` in place, the way a careless learner's function might."""
    if isinstance(value, np.ndarray) and value.flags.writeable:
        value[...] = 7
    elif torch.is_tensor(value):
        with torch.no_grad():
            value.fill_(7)
    elif isinstance(value, dict):
        for item in value.values():
            _spoil(item)
    elif isinstance(value, list):
        for item in value:
            _spoil(item)
        value.clear()


class _Unprintable(Exception):
    def __str__(self):
        raise RuntimeError("no message for you")


class _Unreadable:
    def __array__(self, *args, **kwargs):
        raise RuntimeError("numpy cannot read me")


def _run(check, learner, capsys):
    """Run ``check(learner)``: it must return a falsy verdict, not raise, and print a bounded amount."""
    verdict = check(learner)
    out = capsys.readouterr()
    printed = out.out + out.err
    assert not verdict
    assert len(printed) < MAX_PRINTED, f"printed {len(printed):,} characters"
    return printed


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_learner_writing_into_its_inputs_cannot_spoil_the_check(name, capsys):
    check = getattr(checks, name)

    def spoils_its_inputs(*args):
        for argument in args:
            _spoil(argument)
        raise RuntimeError("wrote into its inputs, then failed")

    _run(check, spoils_its_inputs, capsys)
    assert check(_reference(name)), f"{name}: after a learner wrote into its inputs, the reference no longer passes"


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_check_never_raises_whatever_the_learner_raises_or_returns(name, capsys):
    check = getattr(checks, name)

    def unprintable(*args):
        raise _Unprintable

    def huge_message(*args):
        raise ValueError("x" * 1_000_000)

    def exits(*args):
        sys.exit(3)

    learners = [unprintable, huge_message, exits, lambda *args: "0.75", lambda *args: 1j,
                lambda *args: np.array([1 + 2j]), lambda *args: _Unreadable(),
                lambda *args: torch.empty(3, device="meta")]
    for learner in learners:
        printed = _run(check, learner, capsys)
        assert printed.strip(), f"{name} said nothing about {learner}"
    assert "sys.exit" in _run(check, exits, capsys)


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_check_stops_an_endless_loop_and_says_so(name, capsys, monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT_SECONDS", 0.3)
    check = getattr(checks, name)

    def endless(*args):
        while True:
            pass

    started = time.perf_counter()
    printed = _run(check, endless, capsys)
    assert time.perf_counter() - started < 10, f"{name} let an endless loop run for too long"
    assert "0.3 s" in printed


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_check_cuts_a_flood_of_output(name, capsys):
    def floods(*args):
        for line in range(300_000):
            print("debugging line", line)
        raise RuntimeError("and then failed")

    printed = _run(getattr(checks, name), floods, capsys)
    assert "more characters of your function's output cut" in printed


@pytest.mark.parametrize("name", ALL_CHECKS)
def test_a_check_given_a_value_asks_for_the_function_itself(name, capsys):
    printed = _run(getattr(checks, name), 42, capsys)
    assert "Pass the function itself" in printed


def test_text_complex_and_float_indices_are_wrong_types(capsys):
    cases = [((2.0,), 0.75)]
    for wrong in ("0.75", 0.75 + 0j, True):
        assert not checks.run_check("fraction", lambda value, answer=wrong: answer, cases)
    printed = capsys.readouterr().out
    assert "text" in printed and "complex" in printed and "boolean" in printed
    index_cases = [((np.array([0.9, 0.1, 0.5]),), np.array([1, 2]))]
    assert not checks.run_check("smallest_two", lambda values: np.argsort(values)[:2].astype(float), index_cases, tolerance=0)
    assert "whole numbers" in capsys.readouterr().out
    assert checks.run_check("smallest_two", lambda values: np.argsort(values)[:2], index_cases, tolerance=0)


def test_the_time_limit_is_stated_and_the_check_goes_on_afterwards(capsys, monkeypatch):
    monkeypatch.setattr(core, "TIME_LIMIT_SECONDS", 0.2)

    def slow(value):
        time.sleep(5)

    assert not checks.run_check("square", slow, [((2,), 4)])
    assert "stopped after 0.2 s" in capsys.readouterr().out
    assert checks.run_check("square", lambda value: value * value, [((2,), 4)])   # no alarm left behind
    time.sleep(0.3)
