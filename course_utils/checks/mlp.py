"""Checks for notebook 03 (MLP on MNIST with PyTorch, and how to evaluate a model)."""

from __future__ import annotations

import numpy as np
import torch

from course_utils.checks.core import Verdict, run_check

__all__ = ["check_one_hot", "check_accuracy_from_scores", "check_dense_parameter_count"]

# Reference answers.

def _one_hot(labels, num_classes=10):
    rows = np.zeros((len(labels), num_classes))
    rows[np.arange(len(labels)), labels] = 1.0
    return rows


def _accuracy_from_scores(scores, labels):
    return float((scores.argmax(dim=1) == labels).float().mean())


def _dense_parameter_count(layer_sizes, biases=True):
    return sum(n_in * n_out + (n_out if biases else 0) for n_in, n_out in zip(layer_sizes[:-1], layer_sizes[1:]))



def check_one_hot(one_hot) -> Verdict:
    """``one_hot(labels, num_classes)`` must turn labels (N,) into rows (N, num_classes) with a single 1 at the label."""
    random_labels = np.random.default_rng(3).integers(0, 10, size=50)
    cases = [
        ((np.array([0, 4, 3, 9]), 10), _one_hot(np.array([0, 4, 3, 9]))),
        ((np.array([2, 0, 1, 1]), 3), _one_hot(np.array([2, 0, 1, 1]), 3)),  # num_classes must be honoured
        ((random_labels, 10), _one_hot(random_labels)),
    ]
    return run_check("one_hot", one_hot, cases, tolerance=0,
                     hint="Hint: start from zeros of shape (len(labels), num_classes) and put a 1 in row i, column labels[i].")


def check_accuracy_from_scores(accuracy_from_scores) -> Verdict:
    """``accuracy_from_scores(scores, labels)`` must return the fraction (0..1) of rows whose top score is the true label."""
    generator = torch.Generator().manual_seed(4)
    random_scores = torch.randn(200, 10, generator=generator)
    random_labels = torch.randint(0, 10, (200,), generator=generator)
    square_scores = torch.tensor([[0.1, 0.7, 0.2], [0.5, 0.1, 0.4], [0.2, 0.3, 0.9]])
    cases = [
        ((torch.tensor([[2.0, 1.0, 0.0], [0.0, 3.0, 1.0], [0.5, 0.2, 0.1], [0.0, 0.0, 4.0]]), torch.tensor([0, 1, 2, 2])), 0.75),
        ((square_scores, torch.tensor([1, 0, 2])), 1.0),  # a square matrix catches argmax over the wrong dimension
        ((random_scores, random_labels), _accuracy_from_scores(random_scores, random_labels)),
    ]
    return run_check("accuracy_from_scores", accuracy_from_scores, cases, tolerance=1e-6, describe_inputs=False,
                     hint="Hint: the predicted label is scores.argmax(dim=1) (one per row); return the mean of (predicted == labels) as a float between 0 and 1.")


def check_dense_parameter_count(dense_parameter_count) -> Verdict:
    """``dense_parameter_count(layer_sizes, biases)`` must count the weights (and biases) of fully connected layers."""
    cases = [
        (((3 * 1024, 100, 3), False), 307_500),
        (((3 * 1024, 100, 3), True), 307_603),
        (((784, 256, 128, 10), True), _dense_parameter_count((784, 256, 128, 10))),
        (((2, 3), True), 9),
    ]
    return run_check("dense_parameter_count", dense_parameter_count, cases, tolerance=0,
                     hint="Hint: a layer from n_in to n_out units has n_in * n_out weights, plus n_out biases when biases=True; add up consecutive pairs of sizes.")
