"""Checks for notebook 06 (from notebook to production)."""

from __future__ import annotations

import numpy as np

from course_utils import serve
from course_utils.checks.core import Verdict, run_check

__all__ = ["check_least_confident", "check_request_to_tensor"]

# Reference answer.

def _least_confident(probabilities, count):
    return np.argsort(probabilities.max(axis=1), kind="stable")[:count]



def check_least_confident(least_confident) -> Verdict:
    """``least_confident(probabilities, count)`` must return the indices of the ``count`` rows with the
    smallest top probability, least confident first (int array of shape (count,))."""
    hand = np.array([[0.90, 0.05, 0.05],
                     [0.40, 0.35, 0.25],    # top 0.40: the least confident
                     [0.10, 0.80, 0.10],
                     [0.30, 0.25, 0.45]])   # top 0.45: second least confident
    rng = np.random.default_rng(6)
    random_rows = rng.dirichlet(np.full(10, 0.5), size=200)
    cases = [
        ((hand, 2), np.array([1, 3])),
        ((hand, 4), np.array([1, 3, 2, 0])),
        ((random_rows, 7), _least_confident(random_rows, 7)),
    ]
    return run_check("least_confident", least_confident, cases, tolerance=0, describe_inputs=False,
                     hint="Hint: a row's confidence is its largest probability (max over axis 1); "
                          "np.argsort sorts ascending, so the least confident come first; keep the first `count`.")


def _request_cases():
    rng = np.random.default_rng(60)
    two_images = rng.integers(0, 256, size=(2, 28, 28))
    one_image_decimals = np.round(rng.random((1, 28, 28)) * 255, 2)
    too_bright = two_images.copy()
    too_bright[1, 5, 5] = 256
    negative = two_images.copy()
    negative[0, 0, 0] = -1
    valid = [
        ("two integer images", {"images": two_images.tolist()}),
        ("one image with decimal pixels", {"images": one_image_decimals.tolist()}),
    ]
    invalid = [
        ("a pixel of 256 must be rejected", {"images": too_bright.tolist()}),
        ("a pixel of -1 must be rejected", {"images": negative.tolist()}),
        ("27 rows must be rejected", {"images": two_images[:, :27].tolist()}),
        ("a flat list of 784 pixels must be rejected", {"images": two_images.reshape(2, -1).tolist()}),
    ]
    return valid, invalid


def check_request_to_tensor(request_to_tensor) -> Verdict:
    """``request_to_tensor(payload)`` turns ``{"images": N×28×28 pixels 0..255}`` into the model's input:
    float tensor (N, 1, 28, 28), ``(pixels/255 − 0.1307)/0.3081``; it raises ValueError for a wrong shape
    or a pixel outside 0..255. Tolerance 1e-5 (relative)."""
    def attempt(label, payload, must_reject):
        if not must_reject:
            return request_to_tensor(payload)
        try:
            answer = request_to_tensor(payload)
        except NotImplementedError:
            raise
        except ValueError:
            return "rejected with ValueError"
        except Exception as error:  # the wrong kind of error: tell the learner which one
            return f"raised {type(error).__name__}, not ValueError"
        return "None (not written yet?)" if answer is None else "accepted"

    valid, invalid = _request_cases()
    cases = [((label, payload, False), serve.normalize_pixels(serve.images_from_json(payload)).numpy())
             for label, payload in valid]
    cases += [((label, payload, True), "rejected with ValueError") for label, payload in invalid]
    return run_check("request_to_tensor", attempt if callable(request_to_tensor) else request_to_tensor, cases, tolerance=1e-5,
                     hint="Hint: np.asarray(payload['images'], dtype=np.float32); check .ndim == 3 and .shape[1:] == (28, 28) "
                          "and 0 <= values <= 255 (raise ValueError otherwise); divide by 255, subtract data.PIXEL_MEAN, "
                          "divide by data.PIXEL_STD, add the channel axis with [:, None].")
