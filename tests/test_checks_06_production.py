"""The exercise checks of notebook 06 (production): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np
import torch

from course_utils import checks, data, serve
from course_utils.checks import production as production_checks



def _not_written(*args):
    raise NotImplementedError


# ------------------------------------------------------------------ notebook 06: production

def test_check_least_confident(capsys):
    assert checks.check_least_confident(production_checks._least_confident)
    assert not checks.check_least_confident(lambda p, k: np.argsort(p.max(axis=1))[::-1][:k])  # most confident
    assert not checks.check_least_confident(lambda p, k: np.argsort(p.min(axis=1))[:k])        # wrong confidence
    assert not checks.check_least_confident(lambda p, k: np.argsort(p.max(axis=1))[:k - 1])    # one too few
    assert not checks.check_least_confident(_not_written)
    assert "⏳" in capsys.readouterr().out


def _request_to_tensor(payload):
    return serve.normalize_pixels(serve.images_from_json(payload))


def test_check_request_to_tensor(capsys):
    assert checks.check_request_to_tensor(_request_to_tensor)

    def no_range_check(payload):
        images = np.asarray(payload["images"], dtype=np.float32)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError("shape")
        return torch.from_numpy((images / 255 - data.PIXEL_MEAN) / data.PIXEL_STD)[:, None]

    def not_normalized(payload):
        return _request_to_tensor(payload) * data.PIXEL_STD + data.PIXEL_MEAN

    def missing_channel(payload):
        return _request_to_tensor(payload)[:, 0]

    def wrong_error(payload):
        images = np.asarray(payload["images"], dtype=np.float32)
        if images.min() < 0 or images.max() > 255:
            raise TypeError("pixel out of range")
        return _request_to_tensor(payload)

    for wrong in (no_range_check, not_normalized, missing_channel, wrong_error):
        assert not checks.check_request_to_tensor(wrong), wrong.__name__
    assert not checks.check_request_to_tensor("not a function")
    out = capsys.readouterr().out
    assert "256 must be rejected" in out and "shape" in out and "not ValueError" in out
