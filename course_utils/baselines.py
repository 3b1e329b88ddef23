"""Baselines that any real model must beat (notebook 00, reused in notebook 03).

All functions take numpy arrays: images (N, 28, 28) of any numeric dtype and
labels (N,) of integers 0..9.
"""

from __future__ import annotations

import numpy as np

NUM_CLASSES = 10


def class_counts(labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """How many examples of each class: an int array of shape (num_classes,)."""
    labels = np.asarray(labels)
    if labels.ndim != 1:
        raise ValueError(f"labels must be one-dimensional, got shape {labels.shape}")
    return np.bincount(labels.astype(np.int64), minlength=num_classes)


def most_frequent_class(labels: np.ndarray) -> int:
    """The label seen most often in training: all the dummy classifier ever predicts."""
    return int(np.argmax(class_counts(labels)))


def dummy_predict(train_labels: np.ndarray, num_images: int) -> np.ndarray:
    """Predict the most frequent training label for every one of ``num_images`` images."""
    return np.full(num_images, most_frequent_class(train_labels), dtype=np.int64)


def class_mean_images(images: np.ndarray, labels: np.ndarray, num_classes: int = NUM_CLASSES) -> np.ndarray:
    """The average image of each class: float64 array (num_classes, H, W), in the images' units."""
    images = np.asarray(images, dtype=np.float64)
    labels = np.asarray(labels)
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    missing = [c for c in range(num_classes) if not np.any(labels == c)]
    if missing:
        raise ValueError(f"no training images for classes {missing}: cannot average them")
    return np.stack([images[labels == c].mean(axis=0) for c in range(num_classes)])


def nearest_mean_predict(images: np.ndarray, mean_images: np.ndarray) -> np.ndarray:
    """Label of the class mean closest to each image (Euclidean distance over pixels).

    images (N, H, W), mean_images (C, H, W) -> int64 labels (N,).
    """
    images = np.asarray(images, dtype=np.float64)
    mean_images = np.asarray(mean_images, dtype=np.float64)
    if images.shape[1:] != mean_images.shape[1:]:
        raise ValueError(f"image shape {images.shape[1:]} differs from mean-image shape {mean_images.shape[1:]}")
    flat_images = images.reshape(len(images), -1)
    flat_means = mean_images.reshape(len(mean_images), -1)
    # |a - b|² = |a|² - 2 a·b + |b|²; |a|² is the same for every class, so it can be dropped.
    distances = -2 * flat_images @ flat_means.T + (flat_means**2).sum(axis=1)
    return distances.argmin(axis=1).astype(np.int64)
