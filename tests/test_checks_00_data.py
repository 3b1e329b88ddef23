"""The exercise checks of notebook 00 (data basics): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np
import pytest

from course_utils import checks
from course_utils.checks import baselines as baseline_checks


def _not_written(*args):
    raise NotImplementedError


# ------------------------------------------------------------------ exercise 1: class_counts

def test_check_class_counts_accepts_correct_answers(capsys):
    assert checks.check_class_counts(baseline_checks._class_counts)
    # a loop that keeps its counts in a wide integer type is just as right
    def counted_in_a_loop(labels):
        counts = np.zeros(10, dtype=np.int64)
        for label in labels:
            counts[label] += 1
        return counts
    assert checks.check_class_counts(counted_in_a_loop)
    assert capsys.readouterr().out.count("✅") == 2


@pytest.mark.filterwarnings("ignore:overflow encountered:RuntimeWarning")  # numpy warns, as the learner would see
def test_check_class_counts_names_the_uint8_wrap_around_of_a_loop(capsys):
    def counted_in_uint8(labels):
        counts = np.zeros(10, dtype=labels.dtype)  # the labels' type: uint8 for MNIST
        for label in labels:
            counts[label] += 1
        return counts
    assert not checks.check_class_counts(counted_in_uint8)
    assert "wrap around past 255" in capsys.readouterr().out


def test_check_class_counts_rejects_other_wrong_answers(capsys):
    assert not checks.check_class_counts(lambda labels: np.bincount(labels, minlength=10)[::-1])  # reversed
    out = capsys.readouterr().out
    assert "❌" in out and "expected" in out and "Entry d must be" in out
    assert not checks.check_class_counts(lambda labels: np.bincount(labels, minlength=10) / len(labels))  # shares
    assert "whole numbers" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 2: mean_image_per_digit

def test_check_mean_image_per_digit_accepts_correct_answers(capsys):
    assert checks.check_mean_image_per_digit(baseline_checks._mean_image_per_digit)
    # summing as floats by hand, and float32 means, are just as right
    def summed_as_floats(images, labels):
        totals = np.zeros((10,) + images.shape[1:])
        for image, label in zip(images, labels):
            totals[label] += image
        return totals / np.bincount(labels, minlength=10).reshape(10, *([1] * (images.ndim - 1)))
    assert checks.check_mean_image_per_digit(summed_as_floats)
    assert checks.check_mean_image_per_digit(
        lambda images, labels: baseline_checks._mean_image_per_digit(images.astype(np.float32), labels))
    assert capsys.readouterr().out.count("✅") == 3


def test_check_mean_image_per_digit_rejects_other_wrong_answers(capsys):
    # the medians are not the means
    medians = lambda images, labels: np.stack([np.median(images[labels == d], axis=0) for d in range(10)])
    assert not checks.check_mean_image_per_digit(medians)
    out = capsys.readouterr().out
    assert "❌" in out and "expected" in out and "kept as a float" in out
    # the means in the wrong order (digit 9 first)
    assert not checks.check_mean_image_per_digit(
        lambda images, labels: baseline_checks._mean_image_per_digit(images, labels)[::-1])
    assert "❌" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 3: dummy_predict

def test_check_dummy_predict_accepts_correct_answers(capsys):
    assert checks.check_dummy_predict(baseline_checks._dummy_predict)
    most_common = lambda train_labels, num_predictions: (
        np.full(num_predictions, np.argmax(np.bincount(train_labels.astype(int)))))
    assert checks.check_dummy_predict(most_common)
    assert capsys.readouterr().out.count("✅") == 2


def test_check_dummy_predict_rejects_other_wrong_answers(capsys):
    # the first training label is not the most common one
    first_label = lambda train_labels, num_predictions: np.full(num_predictions, train_labels[0])
    assert not checks.check_dummy_predict(first_label)
    out = capsys.readouterr().out
    assert "❌" in out and "expected" in out and "one prediction per image" in out
    assert not checks.check_dummy_predict(lambda train_labels, num_predictions: np.zeros(num_predictions, dtype=int))
    assert "❌" in capsys.readouterr().out


# ------------------------------------------------------------------ exercise 4: nearest_mean_predict

def test_check_nearest_mean_predict_accepts_correct_answers(capsys):
    assert checks.check_nearest_mean_predict(baseline_checks._nearest_mean_predict)
    # all differences at once by broadcasting, as floats, are just as right
    def broadcast(images, mean_images):
        flat_images = images.reshape(len(images), -1).astype(float)
        flat_means = mean_images.reshape(len(mean_images), -1).astype(float)
        return ((flat_images[:, None, :] - flat_means[None, :, :]) ** 2).sum(axis=2).argmin(axis=1)
    assert checks.check_nearest_mean_predict(broadcast)
    # the square root does not change which mean is nearest
    def with_square_root(images, mean_images):
        return np.sqrt(baseline_checks._distance_table(images, mean_images)).argmin(axis=1)
    assert checks.check_nearest_mean_predict(with_square_root)
    assert capsys.readouterr().out.count("✅") == 3


@pytest.mark.parametrize("forgot_floats", [
    # a learner's natural code for each, without turning the uint8 pixels into floats
    lambda images, means: ((images[:, None] - means[None]) ** 2).sum(axis=(2, 3)).argmin(axis=1),
    lambda images, means: np.linalg.norm((images[:, None] - means[None]).reshape(len(images), len(means), -1),
                                         axis=2).argmin(axis=1),
], ids=["squares in uint8", "norm of uint8 differences"])
def test_check_nearest_mean_predict_names_the_uint8_wrap_around(forgot_floats, capsys):
    assert not checks.check_nearest_mean_predict(forgot_floats)
    assert "3 - 5 is 254" in capsys.readouterr().out


def test_check_nearest_mean_predict_rejects_other_wrong_answers(capsys):
    assert not checks.check_nearest_mean_predict(lambda images, means: np.zeros(len(images), dtype=int))
    out = capsys.readouterr().out
    assert "❌" in out and "expected" in out and "Euclidean distance" in out
    # the second-nearest mean, not the nearest
    assert not checks.check_nearest_mean_predict(
        lambda images, means: baseline_checks._distance_table(images, means).argsort(axis=1)[:, 1])
    assert "❌" in capsys.readouterr().out


# ------------------------------------------------------------------ all four checks

ALL_FOUR = [checks.check_class_counts, checks.check_mean_image_per_digit, checks.check_dummy_predict,
            checks.check_nearest_mean_predict]


@pytest.mark.parametrize("check", ALL_FOUR, ids=lambda check: check.__name__)
def test_each_check_rejects_each_named_mistake_with_its_diagnosis(check, capsys):
    assert len(check.mistakes) >= 2
    for mistake in check.mistakes:
        assert not check(mistake.wrong), mistake.diagnosis
        assert mistake.diagnosis in capsys.readouterr().out


@pytest.mark.parametrize("check", ALL_FOUR, ids=lambda check: check.__name__)
def test_each_check_says_what_to_start_with_while_unwritten(check, capsys):
    assert not check(_not_written)
    line = capsys.readouterr().out.strip()
    assert line.startswith("⏳") and len(line.split("NotImplementedError).", 1)[-1].strip()) > 20, line


@pytest.mark.parametrize("check", ALL_FOUR, ids=lambda check: check.__name__)
def test_no_message_contains_code_of_the_answer(check, capsys):
    check(_not_written)
    check(lambda *args: np.zeros(3))
    messages = capsys.readouterr().out + " ".join(mistake.diagnosis for mistake in check.mistakes)
    for code in ("bincount", "minlength", "argmin", "argmax", "axis=", ".mean(", "astype", "[:, None", "np."):
        assert code not in messages, f"{check.__name__} gives away {code!r}"
