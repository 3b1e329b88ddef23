"""The exercise checks of notebook 00 (data basics): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np

from course_utils import checks
from course_utils.checks import baselines as baseline_checks


# ------------------------------------------------------------------ notebook 00: data basics

def test_check_class_counts():
    assert checks.check_class_counts(baseline_checks._class_counts)
    assert not checks.check_class_counts(lambda labels: np.bincount(labels))  # forgets digits that never appear
    assert not checks.check_class_counts(lambda labels: np.bincount(labels, minlength=10)[::-1])  # reversed


def test_check_nearest_mean_predict():
    assert checks.check_nearest_mean_predict(baseline_checks._nearest_mean_predict)
    largest_dot = lambda images, means: np.abs(images.reshape(len(images), -1) @ means.reshape(len(means), -1).T).argmax(1)
    assert not checks.check_nearest_mean_predict(largest_dot)  # the largest dot product is not the nearest mean
    assert not checks.check_nearest_mean_predict(lambda images, means: np.zeros(len(images), dtype=int))
    farthest = lambda images, means: (-((images[:, None] - means[None]) ** 2).sum(axis=(2, 3))).argmin(axis=1)
    assert not checks.check_nearest_mean_predict(farthest)  # argmax of the distance
