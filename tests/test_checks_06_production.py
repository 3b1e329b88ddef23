"""The exercise checks of notebook 06 (production): each accepts a correct answer, names its common mistakes,
rejects other wrong answers, and says what to start with while the function is unwritten."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from course_utils import checks, data, serve
from course_utils.checks import production as production_checks


def _not_written(*args, **keywords):
    raise NotImplementedError


def _assert_named(check, mistakes, capsys):
    for mistake in mistakes:
        assert not check(mistake.wrong), mistake.diagnosis
        assert mistake.diagnosis in capsys.readouterr().out


def _assert_start_line(check, capsys):
    assert not check(_not_written)
    line = capsys.readouterr().out.strip()
    assert line.startswith("⏳") and "Start" in line, line


# ------------------------------------------------------------------ exercise 1: least_confident

def test_check_least_confident(capsys):
    assert checks.check_least_confident(production_checks._least_confident)
    assert checks.check_least_confident(lambda p, k: np.argsort(np.max(p, axis=1))[:k].tolist())   # a list is fine
    capsys.readouterr()
    _assert_named(checks.check_least_confident, checks.check_least_confident.mistakes, capsys)
    assert not checks.check_least_confident(lambda p, k: np.argsort(p[:, 0])[:k])          # the first column, not the top
    assert not checks.check_least_confident(lambda p, k: np.argsort(p.max(axis=1))[1 : k + 1])   # skips the first
    assert "❌" in capsys.readouterr().out
    _assert_start_line(checks.check_least_confident, capsys)


def test_least_confident_mistakes_are_told_apart_on_the_first_case():
    hand = np.array([[0.90, 0.05, 0.05], [0.40, 0.35, 0.25], [0.10, 0.80, 0.10], [0.30, 0.25, 0.45], [0.60, 0.39, 0.01]])
    answers = [tuple(np.asarray(mistake.wrong(hand, 2)).tolist()) for mistake in checks.check_least_confident.mistakes]
    assert len(set(answers)) == len(answers)


# ------------------------------------------------------------------ exercise 2: pixels_to_tensor

def test_check_pixels_to_tensor(capsys):
    assert checks.check_pixels_to_tensor(production_checks._pixels_to_tensor)
    assert checks.check_pixels_to_tensor(lambda pixels: serve.normalize_pixels(pixels))   # the service's own
    capsys.readouterr()
    _assert_named(checks.check_pixels_to_tensor, checks.check_pixels_to_tensor.mistakes, capsys)
    assert not checks.check_pixels_to_tensor(lambda pixels: torch.as_tensor(pixels / 255, dtype=torch.float32)[:, None])
    assert not checks.check_pixels_to_tensor(lambda pixels: serve.normalize_pixels(pixels).reshape(len(pixels), -1))
    assert "❌" in capsys.readouterr().out
    _assert_start_line(checks.check_pixels_to_tensor, capsys)


# ------------------------------------------------------------------ exercise 3: quantize_int8

def _numpy_quantizer(weights):
    """The same rule in float64 numpy: the check's cases make float32 and float64 agree."""
    values = np.asarray(weights, dtype=np.float64)
    scale = np.abs(values).max() / 127.5
    return torch.from_numpy(np.clip(np.round(values / scale), -128, 127).astype(np.int8)), float(scale)


def test_check_quantize_int8(capsys):
    assert checks.check_quantize_int8(production_checks._quantize_int8)
    assert checks.check_quantize_int8(_numpy_quantizer)
    capsys.readouterr()
    _assert_named(checks.check_quantize_int8, checks.check_quantize_int8.mistakes, capsys)

    def float_codes(weights):
        codes, scale = production_checks._quantize_int8(weights)
        return codes.to(torch.float32), scale

    def codes_only(weights):
        return production_checks._quantize_int8(weights)[0]

    def no_quantization(weights):
        return weights, 1.0

    assert not checks.check_quantize_int8(float_codes)
    assert "torch.int8" in capsys.readouterr().out
    assert not checks.check_quantize_int8(codes_only)
    assert "(codes, scale)" in capsys.readouterr().out
    assert not checks.check_quantize_int8(no_quantization)
    assert "❌" in capsys.readouterr().out
    _assert_start_line(checks.check_quantize_int8, capsys)


def test_quantization_cases_have_no_near_ties_and_one_clamped_maximum():
    for weights in production_checks._quantization_cases():
        scale = weights.abs().max().item() / 127.5
        ratios = weights.double() / scale
        distance_to_half = (ratios - ratios.floor() - 0.5).abs()
        assert (distance_to_half < 1e-3).sum() == 1                 # only the largest weight, exactly at 127.5
        assert ratios.max().item() == 127.5 and ratios.min().item() > -127.5
        assert torch.equal((weights / np.float32(scale)).double(), ratios)   # exact in float32 too


def test_the_reference_quantizer_agrees_with_pytorchs_dynamic_quantization():
    """Its codes are those torch.ao.quantization.quantize_dynamic stores for an nn.Linear."""
    import warnings

    torch.manual_seed(0)
    layer = torch.nn.Linear(40, 12)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantized = torch.ao.quantization.quantize_dynamic(torch.nn.Sequential(layer), {torch.nn.Linear}, dtype=torch.qint8)
    stored = quantized[0].weight()
    codes, scale = production_checks._quantize_int8(layer.weight.detach())
    assert abs(stored.q_scale() - scale) <= 1e-6 * scale and stored.q_zero_point() == 0
    assert (stored.int_repr().int() - codes.int()).abs().max().item() <= 1


# ------------------------------------------------------------------ exercise 4: read_images

def _service_validator(payload, max_images):
    return serve.images_from_json(payload, max_images=max_images)


def test_check_read_images(capsys):
    assert checks.check_read_images(production_checks._read_images)
    assert checks.check_read_images(_service_validator)     # the service's built-in validator passes too
    capsys.readouterr()
    _assert_named(checks.check_read_images, checks.check_read_images.mistakes, capsys)

    def accepts_everything(payload, max_images):
        return np.zeros((1, 28, 28), dtype=np.float32) if "image" in payload else np.asarray(payload["images"], dtype=np.float32)

    def silent(payload, max_images):
        try:
            return production_checks._read_images(payload, max_images)
        except serve.BadInput:
            raise serve.BadInput("") from None

    def adds_channel(payload, max_images):
        return production_checks._read_images(payload, max_images)[:, None]

    for wrong in (accepts_everything, silent, adds_channel):
        assert not checks.check_read_images(wrong), wrong.__name__
    out = capsys.readouterr().out
    assert "without a message" in out and "shape" in out
    _assert_start_line(checks.check_read_images, capsys)


def test_each_validator_mistake_is_diagnosed_at_its_own_case(capsys):
    """A mistake listed earlier must not steal the diagnosis of a later one."""
    labels = {}
    for mistake in checks.check_read_images.mistakes:
        checks.check_read_images(mistake.wrong)
        out = capsys.readouterr().out
        assert out.count("❌") == 1 and mistake.diagnosis in out
        labels[mistake.diagnosis] = out.split("case ", 1)[1].split(" of", 1)[0]
    assert len(set(labels.values())) == len(labels), labels


@pytest.mark.parametrize("label, payload, max_images, must_reject", production_checks._request_cases(),
                         ids=[case[0] for case in production_checks._request_cases()])
def test_the_request_cases_agree_with_the_service(label, payload, max_images, must_reject):
    if must_reject:
        with pytest.raises(serve.BadInput):
            serve.images_from_json(payload, max_images=max_images)
        with pytest.raises(serve.BadInput):
            production_checks._read_images(payload, max_images)
    else:
        expected = serve.images_from_json(payload, max_images=max_images)
        assert np.array_equal(production_checks._read_images(payload, max_images), expected)
        assert expected.shape[1:] == (data.IMAGE_SIDE, data.IMAGE_SIDE)
