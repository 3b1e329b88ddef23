"""Checks for notebook 00 (set-up and your data)."""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Verdict, run_check

__all__ = ["check_class_counts", "check_nearest_mean_predict"]

# Reference answers.

def _class_counts(labels):
    return np.bincount(labels, minlength=10)


def _nearest_mean_predict(images, mean_images):
    flat_images, flat_means = images.reshape(len(images), -1), mean_images.reshape(len(mean_images), -1)
    distances = ((flat_images[:, None, :] - flat_means[None, :, :]) ** 2).sum(axis=2)
    return distances.argmin(axis=1)



def check_class_counts(class_counts) -> Verdict:
    """``class_counts(labels)`` must return how many of each digit 0..9, shape (10,)."""
    random_labels = np.random.default_rng(0).integers(0, 10, size=500)
    cases = [
        ((np.array([0, 1, 1, 3]),), np.array([1, 2, 0, 1, 0, 0, 0, 0, 0, 0])),
        ((np.array([9, 9, 9]),), np.array([0, 0, 0, 0, 0, 0, 0, 0, 0, 3])),  # a digit may be missing: still 10 counts
        ((random_labels,), _class_counts(random_labels)),
    ]
    return run_check("class_counts", class_counts, cases, tolerance=0,
                     hint="Hint: return an array of 10 counts, one per digit, even for digits that never appear (np.bincount with minlength).")


def check_nearest_mean_predict(nearest_mean_predict) -> Verdict:
    """``nearest_mean_predict(images, mean_images)`` must return the label of the closest mean image."""
    means = np.zeros((3, 2, 2))
    means[1] = 1.0
    means[2, 0, 0] = 4.0
    images = np.array([[[0.1, 0.0], [0.0, 0.2]], [[0.9, 1.1], [1.0, 0.8]], [[3.5, 0.0], [0.0, 0.0]]])
    rng = np.random.default_rng(1)
    random_images = rng.random((20, 28, 28))
    random_means = rng.random((10, 28, 28))
    cases = [
        ((images, means), np.array([0, 1, 2])),
        ((random_images, random_means), _nearest_mean_predict(random_images, random_means)),
    ]
    return run_check("nearest_mean_predict", nearest_mean_predict, cases, tolerance=0, describe_inputs=False,
                     hint="Hint: for each image compute its squared distance to each of the mean images, then take argmin over the classes.")
