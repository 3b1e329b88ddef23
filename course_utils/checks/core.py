"""The machinery behind every exercise check: relative error, numerical gradients, one-line verdicts.

A check calls the learner's function on a few cases, compares with the
reference within a stated tolerance and prints one line:

    ✅ passed ...        the answer matches
    ⏳ not written yet   the stub still returns None or raises NotImplementedError
    ❌ ...               what went wrong, on which input, and a hint

It returns a ``Verdict`` (true when passed) and never raises, whatever the learner's code does:
the learner's function gets copies of the inputs, is stopped after ``TIME_LIMIT_SECONDS``, its
printing and error messages are cut short, and ``sys.exit()`` inside it is caught. So a notebook
always runs top to bottom.
"""

from __future__ import annotations

import contextlib
import copy
import io
import signal
import threading
from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

PASS, TODO, FAIL = "✅", "⏳", "❌"

# Limits on the learner's code inside a check: it is stopped after TIME_LIMIT_SECONDS (where the
# operating system allows it: the main thread of a Unix process, which is where a notebook cell runs),
# and what it prints, or says in an error, is cut after a few thousand characters.
TIME_LIMIT_SECONDS = 10.0
PRINTED_LIMIT_CHARACTERS = 2000
MESSAGE_LIMIT_CHARACTERS = 300


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
    try:
        if isinstance(value, np.ndarray) and value.ndim == 0:
            value = value.item()
        if isinstance(value, float):
            text = f"{value:.6g}"
        elif isinstance(value, np.ndarray):
            text = np.array2string(value, precision=4, threshold=8)
        elif isinstance(value, (str, bytes)):
            text = repr(value[: limit + 1])
        else:
            text = repr(value)
    except Exception:
        text = f"a {type(value).__name__} that cannot be shown"
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _kind_problem(got, expected, tolerance: float) -> str:
    """Why ``got`` is not even the right kind of answer (text, complex, float for whole numbers), or ''."""
    if isinstance(got, (str, bytes)):
        return f"expected a number or an array of numbers, got the text {_describe(got)}: return the number itself"
    dtype = getattr(got, "dtype", None)
    if isinstance(got, complex) or (dtype is not None and "complex" in str(dtype)):
        return "expected real numbers, got complex numbers"
    if isinstance(got, (bool, np.bool_)) and not isinstance(expected, (bool, np.bool_)):
        return f"expected a number like {_describe(expected)}, got the boolean {got}"
    expected_dtype = np.asarray(expected).dtype
    wants_whole = np.issubdtype(expected_dtype, np.integer) and (tolerance == 0 or not isinstance(expected, int))
    got_dtype = np.asarray(got).dtype if dtype is None and not hasattr(got, "detach") else dtype
    if wants_whole and got_dtype is not None and "float" in str(got_dtype):
        return (f"expected whole numbers (integers: counts, labels or indices), got {got_dtype} values; "
                "keep the result an integer type")
    return ""


def _compare(got, expected, tolerance: float) -> tuple[bool, str, float]:
    """(ok, reason, error) for one case. Never raises, whatever ``got`` is."""
    try:
        return _compare_values(got, expected, tolerance)
    except Exception as error:  # a result numpy cannot read (a meta tensor, an object with a broken __array__ ...)
        return False, f"could not read your result as numbers ({type(error).__name__}: {short_text(error, 120)})", float("inf")


class Strings(tuple):
    """An expected answer that is a sequence of strings (tokens, words): compared exactly, element by element."""


def _compare_strings(got, expected: Strings) -> tuple[bool, str, float]:
    if not isinstance(got, (list, tuple)) or not all(isinstance(item, str) for item in got):
        return False, f"expected a list of strings like {_describe(list(expected[:5]))}, got {_describe(got)}", float("inf")
    for position, (mine, wanted) in enumerate(zip(got, expected)):
        if mine != wanted:
            return False, (f"item {position} is {mine!r}, expected {wanted!r} "
                           f"(expected {_describe(list(expected[:8]))})"), float("inf")
    if len(got) != len(expected):
        return False, f"expected {len(expected)} items, got {len(got)}: {_describe(list(got[:8]))}", float("inf")
    return True, "", 0.0


def _compare_values(got, expected, tolerance: float) -> tuple[bool, str, float]:
    if isinstance(expected, Strings) or (isinstance(expected, (list, tuple)) and expected
                                         and all(isinstance(item, str) for item in expected)):
        return _compare_strings(got, Strings(expected))
    if isinstance(expected, (bool, np.bool_, str)) or expected is None:
        if isinstance(expected, (bool, np.bool_)) and not isinstance(got, (bool, np.bool_)):
            return False, f"expected True or False, got {_describe(got)}", 0.0
        return got == expected, f"expected {_describe(expected)}, got {_describe(got)}", 0.0
    kind = _kind_problem(got, expected, tolerance)
    if kind:
        return False, kind, float("inf")
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


class _OutOfTime(BaseException):
    """Raised inside the learner's code when its time is up (a BaseException, so ``except Exception`` cannot swallow it)."""


@contextlib.contextmanager
def _time_limit(seconds: float):
    """Interrupt the code inside after ``seconds``, where a timer signal is available; else no limit."""
    if seconds is None or not hasattr(signal, "setitimer") or threading.current_thread() is not threading.main_thread():
        yield
        return

    def out_of_time(signum, frame):
        raise _OutOfTime

    previous = signal.signal(signal.SIGALRM, out_of_time)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


class _BoundedText(io.TextIOBase):
    """A text stream that keeps the first ``limit`` characters written to it and counts the rest."""

    def __init__(self, limit: int):
        super().__init__()
        self.limit, self.kept, self.kept_length, self.dropped = limit, [], 0, 0

    def writable(self) -> bool:
        return True

    def write(self, text) -> int:
        text = str(text)
        room = max(self.limit - self.kept_length, 0)   # a running count: a flood of writes stays linear in time
        if room:
            self.kept.append(text[:room])
            self.kept_length += len(self.kept[-1])
        self.dropped += len(text) - min(len(text), room)
        return len(text)

    def report(self) -> str:
        text = "".join(self.kept)
        return text + (f"\n… ({self.dropped:,} more characters of your function's output cut)\n" if self.dropped else "")


def short_text(value, limit: int = MESSAGE_LIMIT_CHARACTERS) -> str:
    """``str(value)``, cut to ``limit`` characters; a placeholder if ``str`` itself fails."""
    try:
        text = str(value)
    except BaseException:  # an object whose __str__ is broken must not break the check
        return "<its message could not be shown>"
    return text if len(text) <= limit else text[:limit] + f"… ({len(text) - limit:,} more characters)"


@dataclass
class Outcome:
    """What calling the learner's function gave: its ``value``, or why there is none."""

    value: Any = None
    unwritten: bool = False           # it raised NotImplementedError
    problem: str = ""                 # it raised, hung or tried to end the program: what to say


def call_learner(learner_function: Callable, args: tuple, *, time_limit: float | None = None,
                 show_output: bool = True) -> Outcome:
    """Call ``learner_function`` on copies of ``args`` and never let it break the check.

    The copies mean it may write into its inputs without harm; it is stopped after
    ``time_limit`` seconds (default ``TIME_LIMIT_SECONDS``); what it prints is shown, cut after
    ``PRINTED_LIMIT_CHARACTERS``; an exception, ``sys.exit()`` or Ctrl-C becomes ``Outcome.problem``.
    """
    limit = TIME_LIMIT_SECONDS if time_limit is None else time_limit
    printed = _BoundedText(PRINTED_LIMIT_CHARACTERS)
    outcome = Outcome()
    try:
        arguments = copy.deepcopy(args)
        with contextlib.redirect_stdout(printed), contextlib.redirect_stderr(printed), _time_limit(limit):
            outcome.value = learner_function(*arguments)
    except NotImplementedError:
        outcome.unwritten = True
    except _OutOfTime:
        outcome.problem = (f"stopped after {limit:g} s: your function did not return in time (an endless loop, or far "
                           "more work than needed?)")
    except SystemExit:
        outcome.problem = "your function called sys.exit() or exit(): return a value instead (the check stopped it)"
    except KeyboardInterrupt:
        outcome.problem = "interrupted (Ctrl-C or the stop button) before your function returned"
    except BaseException as error:  # the learner's code failed: report, never raise
        outcome.problem = f"raised {type(error).__name__}: {short_text(error)}"
        if isinstance(error, TypeError) and "object is not callable" in short_text(error):
            outcome.problem += " (expected a function: Pass the function itself, without ())"
    text = printed.report()
    if text and show_output:
        print(text, end="" if text.endswith("\n") else "\n")
    return outcome


def run_check(name: str, learner_function: Callable, cases: Sequence[tuple[tuple, Any]], *,
              tolerance: float = 1e-6, hint: str = "", start: str = "", mistakes: Sequence[Mistake] = (),
              describe_inputs: bool = True, time_limit: float | None = None) -> Verdict:
    """Call ``learner_function(*args)`` for each ``(args, expected)`` case and print one verdict line.

    Numbers and arrays pass when ``rel_error`` is at most ``tolerance``;
    booleans and strings must be equal. The learner's function gets copies of the inputs.
    ``start`` is shown while the function is not written yet (what to begin with); on a wrong
    answer, the diagnosis of a matching ``Mistake`` is shown, else what was expected and ``hint``.
    Each call is stopped after ``time_limit`` seconds (default ``TIME_LIMIT_SECONDS``).
    Returns a ``Verdict``, true when every case passes.
    """
    if not callable(learner_function):
        print(f"{FAIL} {name}: expected a function, got {type(learner_function).__name__}. Pass the function itself, without ().")
        return Verdict(False)
    worst = 0.0
    for number, (args, expected) in enumerate(cases, start=1):
        outcome = call_learner(learner_function, args, time_limit=time_limit)
        if outcome.unwritten:
            print(f"{TODO} {name}: not written yet (it raises NotImplementedError). {start or hint}".rstrip())
            return Verdict(False)
        if outcome.problem:
            print(f"{FAIL} {name}: case {number} {outcome.problem}. {hint}".rstrip())
            return Verdict(False)
        got = outcome.value
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


# ------------------------------------------------------------------ answers that are tuples of arrays

def as_float_array(part) -> np.ndarray:
    """A numpy float64 copy of an array, a tensor (detached, on the CPU) or a number."""
    if hasattr(part, "detach"):
        part = part.detach().cpu()
    return np.asarray(part, dtype=np.float64)


def joined(function, reference, names):
    """Wrap a function returning a tuple of arrays so that a check compares them as one flat array.

    ``None`` passes through (not written yet); a result that is not a tuple of ``len(names)`` arrays of the
    reference's shapes raises ValueError with the shapes, which the check reports. A non-function is returned
    as it is, so that the check says it expected a function.
    """
    if not callable(function):
        return function

    def wrapped(*args):
        result = function(*args)
        if result is None:
            return None
        expected = reference(*copy.deepcopy(args))
        if not (isinstance(result, (tuple, list)) and len(result) == len(names)):
            raise ValueError(f"expected a tuple of {len(names)} ({', '.join(names)}), got {type(result).__name__}")
        parts = [as_float_array(part) for part in result]
        for name, part, wanted in zip(names, parts, expected):
            if part.shape != np.shape(wanted):
                raise ValueError(f"{name} has shape {part.shape}, expected {np.shape(wanted)}")
        return np.concatenate([part.ravel() for part in parts])
    wrapped.__name__ = getattr(function, "__name__", "wrapped")
    return wrapped


def joined_mistakes(mistakes, reference, names):
    """The ``Mistake``s of a tuple-returning exercise, each wrapped by ``joined`` like the learner's function."""
    return tuple(Mistake(mistake.diagnosis, joined(mistake.wrong, reference, names)) for mistake in mistakes)
