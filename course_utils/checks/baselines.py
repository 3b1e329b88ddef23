"""Checks for notebook 00 (set-up and your data).

Each check compares the learner's function with a private reference answer (``_<name>``) and
recognises the common mistakes of its exercise by name (the ``_..._MISTAKES`` tuples: each wrong
function returns what a function with that mistake would return). The real MNIST images and
labels are ``uint8``, so every check feeds ``uint8`` inputs: arithmetic kept in ``uint8`` wraps
around (3 - 5 is 254, 200 + 200 is 144), and several of the named mistakes are exactly that.
"""

from __future__ import annotations

import numpy as np

from course_utils.checks.core import Mistake, Verdict, recognising, run_check
from course_utils.data import NUM_CLASSES

__all__ = ["check_class_counts", "check_mean_image_per_digit", "check_dummy_predict", "check_nearest_mean_predict"]

# ------------------------------------------------------------------ the reference answers

def _class_counts(labels):
    return np.bincount(labels, minlength=NUM_CLASSES)


def _mean_image_per_digit(images, labels):
    return np.stack([images[labels == digit].mean(axis=0) for digit in range(NUM_CLASSES)])


def _dummy_predict(train_labels, num_predictions):
    return np.full(num_predictions, np.argmax(_class_counts(train_labels)))


def _squared(differences):
    return (differences ** 2).sum(axis=1)


def _distance_table(images, mean_images, measure=_squared, dtype=np.float64):
    """(N, M): ``measure`` of each flattened image minus each flattened mean, the pixels first turned into ``dtype``.

    ``dtype=None`` keeps the inputs' own type, as code that forgets to convert does.
    """
    flat_images = images.reshape(len(images), -1).astype(dtype or images.dtype)
    flat_means = mean_images.reshape(len(mean_images), -1).astype(dtype or mean_images.dtype)
    return np.stack([measure(flat_images - mean) for mean in flat_means], axis=1)


def _nearest_mean_predict(images, mean_images):
    return _distance_table(images, mean_images).argmin(axis=1)


# ------------------------------------------------------------------ the mistakes, each modelled faithfully

def _counts_kept_in_uint8(labels):
    counts = np.zeros(NUM_CLASSES, dtype=np.uint8)  # a running count in the labels' own type
    np.add.at(counts, labels, 1)  # wraps past 255, like counts[label] += 1 in a loop
    return counts


def _means_summed_in_uint8(images, labels):
    means = []
    for digit in range(NUM_CLASSES):
        selected = images[labels == digit]
        total = np.zeros_like(selected[0])  # same type as the images: uint8 for MNIST
        for image in selected:
            total += image  # wraps past 255 when the images are uint8
        means.append(total / len(selected))
    return np.stack(means)


def _means_stored_in_image_type(images, labels):
    means = np.zeros((NUM_CLASSES,) + images.shape[1:], dtype=images.dtype)  # uint8 result array
    for digit in range(NUM_CLASSES):
        means[digit] = images[labels == digit].mean(axis=0)  # the fraction is cut off on assignment
    return means


def _length(differences):  # what np.linalg.norm measures: wrapped uint8 differences are turned into floats only here
    return np.linalg.norm(differences, axis=1)


def _absolute(differences):
    return np.abs(differences).sum(axis=1)


def _largest_dot_product(images, mean_images):
    flat_images = images.reshape(len(images), -1).astype(np.float64)
    flat_means = mean_images.reshape(len(mean_images), -1).astype(np.float64)
    return np.abs(flat_images @ flat_means.T).argmax(axis=1)


# ------------------------------------------------------------------ exercise 1: how many of each digit

_CLASS_COUNTS_MISTAKES = (
    Mistake("the counts stop at the largest digit present: a digit that never occurs still needs its 0, "
            "so the answer always has ten entries",
            lambda labels: np.bincount(labels)),
    Mistake("only the digits that occur are counted: a missing digit gets no 0, so every count after it "
            "moves one place left and there are fewer than ten entries",
            lambda labels: np.unique(labels, return_counts=True)[1]),
    Mistake("there are nine counts: digit 9 is never counted (a range stops just before its end)",
            lambda labels: np.array([np.sum(labels == digit) for digit in range(NUM_CLASSES - 1)])),
    Mistake("there are nine counts: digit 0 is never counted (a range that starts at 1 skips it)",
            lambda labels: np.array([np.sum(labels == digit) for digit in range(1, NUM_CLASSES)])),
    Mistake("the counts wrap around past 255 (300 comes out as 44): they were kept in uint8, the labels' "
            "own type; keep running counts in a wider integer type",
            _counts_kept_in_uint8),
)


@recognising(*_CLASS_COUNTS_MISTAKES)
def check_class_counts(class_counts) -> Verdict:
    """``class_counts(labels)``: labels (N,) integers 0..9 -> (10,) integers, how often each digit occurs."""
    label_arrays = [np.array([0, 1, 1, 3], dtype=np.uint8),  # digit 2 and digits 4 to 9 never occur
                    np.array([9, 9, 9]),  # only the last digit occurs
                    np.random.default_rng(0).integers(0, NUM_CLASSES, size=3000).astype(np.uint8)]  # ~300 of each
    cases = [((labels,), _class_counts(labels)) for labels in label_arrays]
    start = ("Start from ten counts, one per digit, all zero; then decide how each label adds to one of them "
             "(numpy also has a ready-made counter for whole numbers).")
    return run_check("class_counts", class_counts, cases, tolerance=0, mistakes=_CLASS_COUNTS_MISTAKES, start=start,
                     hint="Entry d must be the number of labels equal to d, for every d from 0 to 9, including the "
                          "digits that never occur.")


# ------------------------------------------------------------------ exercise 2: the mean image of each digit

_MEAN_IMAGE_PER_DIGIT_MISTAKES = (
    Mistake("the sums wrapped around past 255: the running total has the images' uint8 type "
            "(200 + 200 comes out as 144); add the pixels up as floats",
            _means_summed_in_uint8),
    Mistake("the means were cut to whole numbers (127.5 became 127): the array that receives them has the "
            "images' uint8 type; the means must be floats",
            _means_stored_in_image_type),
    Mistake("each digit got a single number: the average ran over the pixels too; average over the images "
            "only, so every pixel keeps its own mean and each digit's mean is an image",
            lambda images, labels: np.array([images[labels == digit].mean() for digit in range(NUM_CLASSES)])),
    Mistake("every mean is too faint: it was divided by the number of all images, not by the number of "
            "images of that digit",
            lambda images, labels: np.stack([images[labels == digit].sum(axis=0, dtype=np.float64) / len(images)
                                             for digit in range(NUM_CLASSES)])),
    Mistake("entry d is the image at position d, not the mean of the images whose label is d",
            lambda images, labels: images[:NUM_CLASSES].astype(np.float64)),
    Mistake("all ten means are the same image, the mean of every image whatever its label: "
            "select the images of one digit before averaging",
            lambda images, labels: np.stack([images.mean(axis=0)] * NUM_CLASSES)),
)


def _two_images_per_digit():
    """Twenty 2 x 2 uint8 images, two per digit, whose pixel sums pass 255 and whose means are not whole."""
    first = np.array([[200, 1], [0, 50]], dtype=np.uint8)
    second = np.array([[255, 2], [0, 51]], dtype=np.uint8)
    images = np.stack([image + np.array([[0, 0], [digit, 0]], dtype=np.uint8)
                       for digit in range(NUM_CLASSES) for image in (first, second)])
    return images, np.repeat(np.arange(NUM_CLASSES), 2)[::-1].copy()  # labels 9, 9, 8, 8, ..., 0, 0


@recognising(*_MEAN_IMAGE_PER_DIGIT_MISTAKES)
def check_mean_image_per_digit(mean_image_per_digit) -> Verdict:
    """``mean_image_per_digit(images, labels)``: (N, H, W), (N,) -> (10, H, W) floats, each digit's mean image."""
    rng = np.random.default_rng(2)
    random_labels = np.concatenate([np.arange(NUM_CLASSES), rng.integers(0, NUM_CLASSES, size=190)]).astype(np.uint8)
    random_images = rng.integers(0, 256, size=(200, 28, 28)).astype(np.uint8)
    scaled_images = rng.random((60, 5, 5))  # floats work too
    scaled_labels = rng.permutation(np.arange(60) % NUM_CLASSES)
    cases = [((images, labels), _mean_image_per_digit(images, labels))
             for images, labels in (_two_images_per_digit(), (random_images, random_labels),
                                    (scaled_images, scaled_labels))]
    return run_check("mean_image_per_digit", mean_image_per_digit, cases, tolerance=1e-6, describe_inputs=False,
                     start="Start with one digit: pick out the images whose label is that digit, look at the shape "
                           "of what you picked, then average it so that one image remains.",
                     hint="Entry d is an image of the same height and width as the inputs; each of its pixels is "
                          "the average of that pixel over the images labelled d, kept as a float (not rounded).",
                     mistakes=_MEAN_IMAGE_PER_DIGIT_MISTAKES)


# ------------------------------------------------------------------ exercise 3: the dummy classifier

_DUMMY_PREDICT_MISTAKES = (
    Mistake("the predictions are a count, not a digit: you answered how often the most common digit occurs "
            "instead of which digit it is",
            lambda train_labels, num_predictions: np.full(num_predictions, np.max(_class_counts(train_labels)))),
    Mistake("you answered the least common digit: the dummy answers the digit seen most often in training",
            lambda train_labels, num_predictions: np.full(num_predictions, np.argmin(_class_counts(train_labels)))),
    Mistake("you returned one digit: return one prediction per image, num_predictions of them",
            lambda train_labels, num_predictions: _class_counts(train_labels).argmax()),
    Mistake("the counts wrapped around past 255 before you compared them: they were kept in uint8, "
            "the labels' own type, so a digit seen 300 times looks rarer than one seen 100 times",
            lambda labels, num_predictions: np.full(num_predictions, np.argmax(_counts_kept_in_uint8(labels)))),
)


@recognising(*_DUMMY_PREDICT_MISTAKES)
def check_dummy_predict(dummy_predict) -> Verdict:
    """``dummy_predict(train_labels, num_predictions)`` -> (num_predictions,) ints, all the most common digit."""
    rng = np.random.default_rng(3)
    many_labels = rng.permutation(np.repeat(np.arange(NUM_CLASSES), [120, 300, 110, 100, 130, 90, 140, 260, 105, 95]))
    cases = [
        ((np.array([3, 1, 3, 7, 3, 1, 3], dtype=np.uint8), 4), np.array([3, 3, 3, 3])),
        ((np.array([0, 8, 8, 2, 2, 2, 9, 0, 2], dtype=np.uint8), 3), np.array([2, 2, 2])),
        ((many_labels.astype(np.uint8), 5), np.array([1, 1, 1, 1, 1])),
    ]
    hint = "Every prediction is the same digit, the one seen most often in training; one prediction per image."
    return run_check("dummy_predict", dummy_predict, cases, tolerance=0, mistakes=_DUMMY_PREDICT_MISTAKES, hint=hint,
                     start="Start by finding which digit occurs most often in the training labels (you counted them "
                           "in exercise 1); the test images themselves play no part.")


# ------------------------------------------------------------------ exercise 4: the nearest-mean classifier

def _tiny_uint8_case():
    """Three one-row uint8 templates, and images whose nearest one changes when uint8 arithmetic wraps around."""
    templates = np.array([[[5, 0, 0, 0]], [[0, 0, 0, 60]], [[200, 200, 200, 200]]], dtype=np.uint8)
    images = np.array([[[3, 0, 0, 0]], [[0, 0, 0, 50]], [[190, 210, 200, 180]], [[0, 0, 1, 0]]], dtype=np.uint8)
    return images, templates


_NEAREST_MEAN_PREDICT_MISTAKES = (
    Mistake("the differences wrapped around: with uint8 images and uint8 means, 3 - 5 is 254, and here the "
            "squares wrapped past 255 too; turn the pixels into floats before subtracting",
            lambda images, mean_images: _distance_table(images, mean_images, dtype=None).argmin(axis=1)),
    Mistake("the differences wrapped around before their length was measured: with uint8 images and uint8 "
            "means, 3 - 5 is 254, not -2; turn the pixels into floats before subtracting",
            lambda images, mean_images: _distance_table(images, mean_images, _length, dtype=None).argmin(axis=1)),
    Mistake("this picks the farthest mean: the answer is the position of the smallest distance, not the largest",
            lambda images, mean_images: _distance_table(images, mean_images).argmax(axis=1)),
    Mistake("this picks the mean with the largest dot product (the most shared ink), so a mean with much ink "
            "wins even when it is far away; measure the distance to each mean instead",
            _largest_dot_product),
    Mistake("the distance is the sum of absolute differences; the task asks for the Euclidean distance "
            "(squared differences), and the two disagree on some images",
            lambda images, mean_images: _distance_table(images, mean_images, _absolute).argmin(axis=1)),
    Mistake("one answer per mean instead of one per image: the smallest distance was taken over the images, "
            "not over the means (look at the shape of your answer)",
            lambda images, mean_images: _distance_table(images, mean_images).argmin(axis=0)),
)


@recognising(*_NEAREST_MEAN_PREDICT_MISTAKES)
def check_nearest_mean_predict(nearest_mean_predict) -> Verdict:
    """``nearest_mean_predict(images, mean_images)``: (N, H, W), (M, H, W) -> (N,) ints, each image's closest mean."""
    small_means = np.zeros((3, 2, 2))
    small_means[1] = 1.0
    small_means[2, 0, 0] = 4.0
    small_images = np.array([[[0.1, 0.0], [0.0, 0.2]], [[0.9, 1.1], [1.0, 0.8]], [[3.5, 0.0], [0.0, 0.0]],
                             [[0.0, 0.3], [0.2, 0.0]]])
    rng = np.random.default_rng(1)
    uint8_images = rng.integers(0, 256, size=(20, 28, 28)).astype(np.uint8)  # like MNIST: whole numbers 0..255
    float_means = rng.random((10, 28, 28)) * 255  # like the mean images: floats
    uint8_templates = rng.integers(0, 256, size=(10, 28, 28)).astype(np.uint8)  # templates stored as images
    cases = [((images, means), _nearest_mean_predict(images, means))
             for images, means in ((small_images, small_means), (uint8_images, float_means), _tiny_uint8_case(),
                                   (uint8_images, uint8_templates))]
    start = ("Start with the distance from every image to one mean image: flatten both to rows of pixels, and "
             "think about the pixels' type before you subtract.")
    hint = ("For each image measure its Euclidean distance to every mean image; its prediction is the position of "
            "the closest mean. Both inputs may be uint8.")
    return run_check("nearest_mean_predict", nearest_mean_predict, cases, tolerance=0, start=start, hint=hint,
                     mistakes=_NEAREST_MEAN_PREDICT_MISTAKES, describe_inputs=False)
