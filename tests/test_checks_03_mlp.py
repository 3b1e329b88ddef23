"""The exercise checks of notebook 03 (MLP): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np

from course_utils import checks
from course_utils.checks import mlp as mlp_checks



def _not_written(*args):
    raise NotImplementedError


# ------------------------------------------------------------------ notebook 03: MLP

def test_check_one_hot(capsys):
    assert checks.check_one_hot(mlp_checks._one_hot)
    assert not checks.check_one_hot(lambda labels, num_classes=10: mlp_checks._one_hot(labels).T)       # transposed
    assert not checks.check_one_hot(lambda labels, num_classes=10: mlp_checks._one_hot(labels, 10))     # ignores num_classes
    assert not checks.check_one_hot(                                                                    # off by one
        lambda labels, num_classes=10: mlp_checks._one_hot((np.asarray(labels) + 1) % num_classes, num_classes))
    assert not checks.check_one_hot(_not_written)
    assert "not written yet" in capsys.readouterr().out


def test_check_accuracy_from_scores():
    assert checks.check_accuracy_from_scores(mlp_checks._accuracy_from_scores)
    assert not checks.check_accuracy_from_scores(lambda s, l: 100 * mlp_checks._accuracy_from_scores(s, l))    # percent
    assert not checks.check_accuracy_from_scores(lambda s, l: (s.argmax(dim=0) == l).float().mean().item())   # wrong dim
    assert not checks.check_accuracy_from_scores(lambda s, l: int((s.argmax(dim=1) == l).sum()))             # a count


def test_check_dense_parameter_count():
    assert checks.check_dense_parameter_count(mlp_checks._dense_parameter_count)
    assert not checks.check_dense_parameter_count(                                        # forgets the biases
        lambda sizes, biases=True: mlp_checks._dense_parameter_count(sizes, False))
    assert not checks.check_dense_parameter_count(lambda sizes, biases=True: int(np.prod(sizes)))  # multiplies everything
    assert not checks.check_dense_parameter_count(                                        # counts input biases
        lambda sizes, biases=True: sum(a * b + (a if biases else 0) for a, b in zip(sizes[:-1], sizes[1:])))
