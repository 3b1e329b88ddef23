"""The machinery behind every exercise check: relative error, numerical gradients, one-line verdicts.

A check calls the learner's function on a few cases, compares with the
reference within a stated tolerance and prints one line:

    ✅ passed ...        the answer matches
    ⏳ not written yet   the stub still returns None or raises NotImplementedError
    ❌ ...               what went wrong, on which input, and a hint

It returns True or False and never raises on an unfinished or wrong answer,
so a notebook always runs top to bottom.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

PASS, TODO, FAIL = "✅", "⏳", "❌"


class Verdict:
    """The outcome of a check: true when it passed. Prints nothing in Jupyter, since the check already did."""

    def __init__(self, passed: bool):
        self.passed = bool(passed)

    def __bool__(self) -> bool:
        return self.passed

    def __eq__(self, other) -> bool:
        return self.passed == bool(other)

    def __hash__(self) -> int:
        return hash(self.passed)

    def __repr__(self) -> str:
        return f"Verdict(passed={self.passed})"

    def _ipython_display_(self) -> None:
        """Show nothing as a cell's value: the verdict line was printed already."""


@dataclass(frozen=True)
class Mistake:
    """A common wrong answer to an exercise, recognised by what it returns.

    ``wrong`` takes the learner function's arguments and returns what a function with
    this mistake would return; ``diagnosis`` names the mistake and says where to look,
    without giving the code. When a learner's answer fails a case and equals what
    ``wrong`` returns there, the check prints the diagnosis instead of a bare "expected …, got …".
    """

    diagnosis: str
    wrong: Callable


def _to_numpy(value) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float64)


def rel_error(actual, expected) -> float:
    """Largest elementwise relative error ``|a - e| / max(1e-8, |a| + |e|)``, as in cs231n.

    About 1e-7 or less: the two agree to float64 rounding; 1e-2 or more: something is wrong.
    Shapes must match exactly (no broadcasting hides a wrong shape).
    """
    actual, expected = _to_numpy(actual), _to_numpy(expected)
    if actual.shape != expected.shape:
        raise ValueError(f"shapes differ: {actual.shape} vs {expected.shape}")
    if actual.size == 0:
        return 0.0
    return float(np.max(np.abs(actual - expected) / np.maximum(1e-8, np.abs(actual) + np.abs(expected))))


def numerical_gradient(f: Callable[[np.ndarray], float], x: np.ndarray, h: float = 1e-5) -> np.ndarray:
    """Gradient of the scalar function ``f`` at ``x`` by central differences, ``(f(x+h) - f(x-h)) / 2h``.

    ``x`` must be a float array; each entry is nudged in place and restored,
    so ``f`` may close over ``x`` (the way a network closes over its weights).
    """
    if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
        raise TypeError("x must be a numpy float array (use dtype=np.float64 for a precise check)")
    gradient = np.zeros_like(x, dtype=np.float64)
    for index in np.ndindex(x.shape):
        original = x[index]
        x[index] = original + h
        above = float(f(x))
        x[index] = original - h
        below = float(f(x))
        x[index] = original
        gradient[index] = (above - below) / (2 * h)
    return gradient


def gradient_check(f: Callable[[np.ndarray], float], x: np.ndarray, analytic_gradient, *, name: str = "gradient",
                   h: float = 1e-5, tolerance: float = 1e-6) -> float:
    """Compare an analytic gradient with the numerical one; print and return the relative error."""
    numeric = numerical_gradient(f, x, h)
    error = rel_error(analytic_gradient, numeric)
    mark = PASS if error <= tolerance else FAIL
    print(f"{mark} {name}: relative error {error:.1e} (tolerance {tolerance:.0e})")
    return error


def _describe(value, limit: int = 80) -> str:
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value.item()
    if isinstance(value, float):
        text = f"{value:.6g}"
    elif isinstance(value, np.ndarray):
        text = np.array2string(value, precision=4, threshold=8)
    else:
        text = repr(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _compare(got, expected, tolerance: float) -> tuple[bool, str, float]:
    """(ok, reason, error) for one case."""
    if isinstance(expected, (bool, str)) or expected is None:
        return got == expected, f"expected {_describe(expected)}, got {_describe(got)}", 0.0
    try:
        got_array = _to_numpy(got)
    except (TypeError, ValueError):
        return False, f"expected a number or array like {_describe(expected)}, got {type(got).__name__}", float("inf")
    expected_array = _to_numpy(expected)
    if got_array.shape != expected_array.shape:
        return False, f"expected shape {expected_array.shape}, got shape {got_array.shape}", float("inf")
    if not np.all(np.isfinite(got_array)) and np.all(np.isfinite(expected_array)):
        return False, "the answer contains nan or inf", float("inf")
    error = rel_error(got_array, expected_array)
    if error > tolerance:
        return False, f"expected {_describe(expected_array)}, got {_describe(got_array)} (relative error {error:.1e})", error
    return True, "", error


def _diagnose(got, args, mistakes: Sequence[Mistake], tolerance: float) -> str | None:
    """The diagnosis of the first mistake whose answer on ``args`` equals ``got``, else None."""
    for mistake in mistakes:
        try:
            wrong_answer = mistake.wrong(*copy.deepcopy(args))
        except Exception:  # a mistake that cannot happen on these inputs
            continue
        try:
            if _compare(got, wrong_answer, max(tolerance, 1e-9))[0]:
                return mistake.diagnosis
        except Exception:
            continue
    return None


def _call(learner_function: Callable, args: tuple):
    """Call the learner's function on copies of ``args``: it may write into its inputs without harm."""
    return learner_function(*copy.deepcopy(args))


def run_check(name: str, learner_function: Callable, cases: Sequence[tuple[tuple, Any]], *,
              tolerance: float = 1e-6, hint: str = "", start: str = "", mistakes: Sequence[Mistake] = (),
              describe_inputs: bool = True) -> Verdict:
    """Call ``learner_function(*args)`` for each ``(args, expected)`` case and print one verdict line.

    Numbers and arrays pass when ``rel_error`` is at most ``tolerance``;
    booleans and strings must be equal. The learner's function gets copies of the inputs.
    ``start`` is shown while the function is not written yet (what to begin with); on a wrong
    answer, the diagnosis of a matching ``Mistake`` is shown, else what was expected and ``hint``.
    Returns a ``Verdict``, true when every case passes.
    """
    if not callable(learner_function):
        print(f"{FAIL} {name}: expected a function, got {type(learner_function).__name__}. Pass the function itself, without ().")
        return Verdict(False)
    worst = 0.0
    for number, (args, expected) in enumerate(cases, start=1):
        try:
            got = _call(learner_function, args)
        except NotImplementedError:
            print(f"{TODO} {name}: not written yet (it raises NotImplementedError). {start or hint}".rstrip())
            return Verdict(False)
        except Exception as error:  # the learner's code failed: report, never raise
            print(f"{FAIL} {name}: case {number} raised {type(error).__name__}: {error}. {hint}".rstrip())
            return Verdict(False)
        if got is None and expected is not None:
            print(f"{TODO} {name}: not written yet (it returns None). {start or hint}".rstrip())
            return Verdict(False)
        ok, reason, error = _compare(got, expected, tolerance)
        if not ok:
            diagnosis = _diagnose(got, args, mistakes, tolerance)
            if diagnosis:
                print(f"{FAIL} {name}: case {number} of {len(cases)}: {diagnosis}")
                return Verdict(False)
            inputs = f" for input {_describe(args if len(args) != 1 else args[0])}" if describe_inputs else ""
            print(f"{FAIL} {name}: case {number} of {len(cases)}{inputs}: {reason}. {hint}".rstrip())
            return Verdict(False)
        worst = max(worst, error)
    print(f"{PASS} {name}: passed {len(cases)} cases (worst relative error {worst:.1e}, tolerance {tolerance:.0e}).")
    return Verdict(True)


def recognising(*mistakes: Mistake):
    """Decorator for a check: record the mistakes it recognises as ``check.mistakes``, so a test can feed it each one."""
    def attach(check):
        check.mistakes = mistakes
        return check
    return attach


def use_if_passed(verdict, learner_function: Callable, reference: Callable) -> Callable:
    """The learner's function once its check has passed, else the reference; prints which one later cells run.

    ``verdict`` is what the check returned (truthy when it passed)::

        one_hot_passed = checks.check_one_hot(one_hot)
        ...
        encode = checks.use_if_passed(one_hot_passed, one_hot, one_hot_solution)
    """
    name = getattr(learner_function, "__name__", "your function")
    if verdict:
        print(f"Using your {name}.")
        return learner_function
    print(f"Using the reference {getattr(reference, '__name__', name)}: your {name} has not passed its check yet.")
    return reference

