"""Automatic checks for the exercises, and the numerical tools behind them.

Each ``check_<name>(learner_function)`` prints one verdict line and returns a
``Verdict`` (true when passed); it never raises on an unfinished or wrong answer.
The reference answers live beside each check, as private functions
(``checks.<topic>._<name>``), with the named mistakes each check recognises.

There is one module of checks per notebook (``baselines`` 00, ``gradient_descent``
01, ``numpy_nets`` 02, ``mlp`` 03, ``cnn`` 04, ``rnn`` 05, ``production`` 06, ``text`` 07); every
name in a module's ``__all__`` is available here as ``checks.<name>``.
"""

import sys

from course_utils.checks import baselines, cnn, gradient_descent, mlp, numpy_nets, production, rnn, text
from course_utils.checks.core import (Mistake, Strings, gradient_check, numerical_gradient, recognising, rel_error, run_check,
                                      use_if_passed)

TOPIC_MODULES = (baselines, gradient_descent, numpy_nets, mlp, cnn, rnn, production, text)

__all__ = ["rel_error", "numerical_gradient", "gradient_check", "run_check", "Mistake", "recognising", "use_if_passed"]
for _module in TOPIC_MODULES:
    for _name in _module.__all__:
        globals()[_name] = getattr(_module, _name)
        __all__.append(_name)


def reference(name: str):
    """The reference answer of exercise ``name``: the function ``check_<name>`` compares a learner's answer with.

    Only the learner edition uses it (``make learner``, scripts/learner_edition.py): it has no solution cells,
    and a stand-in cell in the place of each one takes the reference under the solution's name, so the cells
    after an exercise run the same way whether or not it has been done.
    """
    check = globals().get(f"check_{name}")
    if not callable(check):
        raise ValueError(f"there is no exercise called {name!r}: the names are those of the check_<name> functions, "
                         "for example reference('softmax')")
    return getattr(sys.modules[check.__module__], f"_{name}")
