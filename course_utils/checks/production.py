"""Checks for notebook 06 (from notebook to production).

Four exercises: the least confident predictions, pixels to the model's input, int8 quantization of a
weight matrix by hand, and the service's request validator. Each check names the common mistakes it
recognises (``check.mistakes``); the private reference answers ``_<name>`` live beside the checks.
"""

from __future__ import annotations

import warnings

import numpy as np
import torch

from course_utils import data, serve
from course_utils.checks.core import Mistake, Verdict, recognising, run_check

__all__ = ["check_least_confident", "check_pixels_to_tensor", "check_quantize_int8", "check_read_images"]


# ------------------------------------------------------------------ exercise 1: the least confident predictions

def _least_confident(probabilities, count):
    return np.argsort(np.asarray(probabilities).max(axis=1), kind="stable")[:count]


_LEAST_CONFIDENT_MISTAKES = (
    Mistake("these are the MOST confident rows: the order is reversed; the least confident row must come first",
            lambda probabilities, count: np.argsort(-np.asarray(probabilities).max(axis=1), kind="stable")[:count]),
    Mistake("a row's confidence is its largest probability, not its smallest: look at which reduction you take over each row",
            lambda probabilities, count: np.argsort(np.asarray(probabilities).min(axis=1), kind="stable")[:count]),
    Mistake("these are the confidences themselves, sorted; the task asks for the row numbers (indices) of those rows",
            lambda probabilities, count: np.sort(np.asarray(probabilities).max(axis=1))[:count]),
    Mistake("one row too few: `count` rows are asked for (look at where your slice stops)",
            lambda probabilities, count: _least_confident(probabilities, count)[: count - 1]),
)


@recognising(*_LEAST_CONFIDENT_MISTAKES)
def check_least_confident(least_confident) -> Verdict:
    """``least_confident(probabilities, count)`` must return the indices of the ``count`` rows with the
    smallest top probability, least confident first (int array of shape (count,)). Tolerance 0."""
    hand = np.array([[0.90, 0.05, 0.05],
                     [0.40, 0.35, 0.25],    # top 0.40: the least confident
                     [0.10, 0.80, 0.10],
                     [0.30, 0.25, 0.45],    # top 0.45: second least confident
                     [0.60, 0.39, 0.01]])
    random_rows = np.random.default_rng(6).dirichlet(np.full(10, 0.5), size=200)
    cases = [((hand, 2), np.array([1, 3])),
             ((hand, 4), np.array([1, 3, 4, 2])),
             ((random_rows, 7), _least_confident(random_rows, 7))]
    return run_check("least_confident", least_confident, cases, tolerance=0, describe_inputs=False,
                     mistakes=_LEAST_CONFIDENT_MISTAKES,
                     start="Start with one number per row, that row's confidence; then put the row numbers in the order "
                           "of those numbers, lowest first.",
                     hint="Work the check's first example by hand: its five rows have confidences 0.90, 0.40, 0.80, 0.45 "
                          "and 0.60. Which two rows should come first, and in which order?")


# ------------------------------------------------------------------ exercise 2: pixels to the model's input

def _pixels_to_tensor(pixels):
    scaled = torch.as_tensor(np.asarray(pixels), dtype=torch.float32) / 255
    return ((scaled - data.PIXEL_MEAN) / data.PIXEL_STD).unsqueeze(1)


_PIXELS_TO_TENSOR_MISTAKES = (
    Mistake("the pixels were not divided by 255 first: the training mean and std are those of pixels in 0..1, "
            "so 0..255 pixels come out 255 times too large",
            lambda pixels: ((torch.as_tensor(np.asarray(pixels), dtype=torch.float32) - data.PIXEL_MEAN)
                            / data.PIXEL_STD).unsqueeze(1)),
    Mistake("the channel axis is missing: the CNN wants (N, 1, 28, 28), one channel per image, and you return (N, 28, 28)",
            lambda pixels: _pixels_to_tensor(pixels)[:, 0]),
    Mistake("the channel axis is last, (N, 28, 28, 1): PyTorch's convolutions want channels first, (N, 1, 28, 28)",
            lambda pixels: _pixels_to_tensor(pixels)[:, 0, :, :, None]),
    Mistake("you standardised with these images' own mean and std; the model was trained with the training set's "
            "(data.PIXEL_MEAN and data.PIXEL_STD), and a request must be treated exactly like the training data",
            lambda pixels: (lambda scaled: ((scaled - scaled.mean()) / scaled.std()).unsqueeze(1))(
                torch.as_tensor(np.asarray(pixels), dtype=torch.float32) / 255)),
    Mistake("mean and std are swapped: subtract the mean, then divide by the standard deviation",
            lambda pixels: ((torch.as_tensor(np.asarray(pixels), dtype=torch.float32) / 255 - data.PIXEL_STD)
                            / data.PIXEL_MEAN).unsqueeze(1)),
)


@recognising(*_PIXELS_TO_TENSOR_MISTAKES)
def check_pixels_to_tensor(pixels_to_tensor) -> Verdict:
    """``pixels_to_tensor(pixels)``: float pixels (N, 28, 28) in 0..255 -> float tensor (N, 1, 28, 28),
    normalised like the training data. Tolerance 1e-5 (relative)."""
    rng = np.random.default_rng(61)
    cases = [((rng.integers(0, 256, size=(2, 28, 28)).astype(np.float32),), None),
             ((np.round(rng.random((1, 28, 28)) * 255, 2).astype(np.float32),), None),
             ((np.zeros((3, 28, 28), dtype=np.float32),), None)]
    cases = [(args, _pixels_to_tensor(*args)) for args, _ in cases]
    return run_check("pixels_to_tensor", pixels_to_tensor, cases, tolerance=1e-5, describe_inputs=False,
                     mistakes=_PIXELS_TO_TENSOR_MISTAKES,
                     start="Start by turning the numpy pixels into a float32 torch tensor; then treat them exactly as "
                           "data.to_tensors treated the training images.",
                     hint="A blank pixel (0) must come out as about -0.4242, an ink pixel (255) as about 2.8215; "
                          "and the shape must be (N, 1, 28, 28).")


# ------------------------------------------------------------------ exercise 3: int8 quantization by hand

INT8_LOW, INT8_HIGH = -128, 127
_HALF_STEPS = (INT8_HIGH - INT8_LOW) / 2   # 127.5: PyTorch's symmetric scale maps the largest |weight| here


def _quantize_int8(weights):
    weights = torch.as_tensor(weights, dtype=torch.float32)
    scale = weights.abs().max().item() / _HALF_STEPS
    codes = torch.clamp(torch.round(weights / scale), INT8_LOW, INT8_HIGH).to(torch.int8)
    return codes, scale


def _pytorch_reconstruction(weights, scale):
    """What PyTorch's own per-tensor int8 quantization gives back for ``weights`` with ``scale`` and zero point 0."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")   # quantized tensors announce their move to the separate torchao package
        quantized = torch.quantize_per_tensor(torch.as_tensor(weights, dtype=torch.float32), scale, 0, torch.qint8)
    return quantized.dequantize()


def _quantized_with(scale_of, *, clamp=True, rounding=True):
    """A quantizer like the reference, with another scale rule, or without clamping or rounding."""
    def quantize(weights):
        weights = torch.as_tensor(weights, dtype=torch.float32)
        scale = float(scale_of(weights))
        ratios = weights / scale
        codes = torch.round(ratios) if rounding else ratios
        if clamp:
            codes = torch.clamp(codes, INT8_LOW, INT8_HIGH)
        return codes.to(torch.int32).to(torch.int8), scale   # int32 -> int8 wraps around, as integer overflow does
    return quantize


def _largest_magnitude(weights):
    return weights.abs().max().item() / _HALF_STEPS


_QUANTIZE_INT8_MISTAKES = (
    Mistake("the largest weight came back as a large NEGATIVE number: its code went past 127 and wrapped around "
            "to -128 (integer overflow). Keep every code inside int8's range -128..127 before converting",
            _quantized_with(_largest_magnitude, clamp=False)),
    Mistake("the codes were truncated toward zero instead of rounded to the nearest integer: converting a float to "
            "an integer type drops the fraction, so e.g. 2.9 becomes 2 (the error doubles)",
            _quantized_with(_largest_magnitude, rounding=False)),
    Mistake("the scale spreads the 255 steps from the smallest weight to the largest, as the affine scheme (with a zero "
            "point) does; with zero point 0 the steps must be spread over -max|weight| .. +max|weight|",
            _quantized_with(lambda weights: (weights.max() - weights.min()).item() / (INT8_HIGH - INT8_LOW))),
    Mistake("the scale comes from the mean |weight|, not the largest: most weights are fine but every large one is "
            "clamped to ±127 codes, and those are the weights that matter most",
            _quantized_with(lambda weights: weights.abs().mean().item() / _HALF_STEPS)),
    Mistake("your scale maps the largest |weight| to code 127; PyTorch's maps it to 127.5, half of the 255 steps "
            "from -128 to 127, so that the 256 codes are shared evenly between both signs",
            _quantized_with(lambda weights: weights.abs().max().item() / INT8_HIGH)),
    Mistake("the scale maps the largest |weight| to 255: an int8 code only goes up to 127 on either side of zero, "
            "so half of the levels are never used",
            _quantized_with(lambda weights: weights.abs().max().item() / (INT8_HIGH - INT8_LOW))),
)


def _quantization_cases():
    """Weight matrices built so that every ratio weight / scale is exact in float32 (the scale is a power of two)
    and lies at least 0.05 from a halfway point, except the largest |weight|, which is positive and lands
    exactly on 127.5, as in PyTorch: float32 and float64 arithmetic give the same codes."""
    cases = []
    for seed, shape in ((0, (6, 5)), (1, (64, 32)), (2, (10, 784))):
        generator = torch.Generator().manual_seed(seed)
        codes = torch.clamp(torch.round(torch.randn(shape, generator=generator) * 40), INT8_LOW + 1, INT8_HIGH)
        ratios = codes + (torch.rand(shape, generator=generator) - 0.5) * 0.9
        ratios.view(-1)[seed] = _HALF_STEPS            # the largest |weight|, positive
        ratios.view(-1)[seed + 1] = INT8_LOW + 0.7     # a large negative weight
        cases.append(ratios * 2.0 ** -10)
    return cases


def _reconstruction_of(quantize_int8):
    """Run the learner's quantizer and turn its (codes, scale) into the weights it stands for."""
    def reconstruct(weights):
        answer = quantize_int8(weights)
        if answer is None:
            return None
        if not (isinstance(answer, tuple) and len(answer) == 2):
            raise TypeError(f"return the pair (codes, scale), got {type(answer).__name__}")
        codes, scale = answer
        if not (torch.is_tensor(codes) and codes.dtype == torch.int8):
            raise TypeError(f"codes must be a torch.int8 tensor, got {getattr(codes, 'dtype', type(codes).__name__)}")
        return codes.to(torch.float32) * float(scale)
    return reconstruct


@recognising(*_QUANTIZE_INT8_MISTAKES)
def check_quantize_int8(quantize_int8) -> Verdict:
    """``quantize_int8(weights)``: float32 tensor (any shape) -> ``(codes, scale)``, codes a torch.int8 tensor of the
    same shape and scale a float, with weights ≈ codes × scale (symmetric, per tensor, zero point 0, as PyTorch's
    dynamic quantization does). The check compares codes × scale with what ``torch.quantize_per_tensor`` gives back
    for the same weights. Tolerance 1e-5 (relative)."""
    cases = [((weights,), _pytorch_reconstruction(weights, _quantize_int8(weights)[1])) for weights in _quantization_cases()]
    learner = _reconstruction_of(quantize_int8) if callable(quantize_int8) else quantize_int8
    mistakes = tuple(Mistake(mistake.diagnosis, _reconstruction_of(mistake.wrong)) for mistake in _QUANTIZE_INT8_MISTAKES)
    return run_check("quantize_int8", learner, cases, tolerance=1e-5, describe_inputs=False, mistakes=mistakes,
                     start="Start with the scale: the size of one step between neighbouring codes, chosen so that the "
                           "largest |weight| lands half a step beyond code 127.",
                     hint="Test it on a tiny matrix you can do by hand: with weights [-1.0, 0.5, 1.275] the scale is 0.01, "
                          "and the codes must be -100, 50 and 127.")


# ------------------------------------------------------------------ exercise 4: the request validator

_SIDE = data.IMAGE_SIDE


def _read_images(payload, max_images):
    if not isinstance(payload, dict):
        raise serve.BadInput(f"the body must be a JSON object, got {type(payload).__name__}")
    keys = set(payload)
    if keys not in ({"image"}, {"images"}):
        raise serve.BadInput(f'give exactly one key, "image" or "images"; got {sorted(keys)}')
    images = [payload["image"]] if "image" in keys else payload["images"]
    if not isinstance(images, list) or not 1 <= len(images) <= max_images:
        raise serve.BadInput(f"send a list of 1 to {max_images} images")
    for number, image in enumerate(images):
        if not (isinstance(image, list) and len(image) == _SIDE
                and all(isinstance(row, list) and len(row) == _SIDE for row in image)):
            raise serve.BadInput(f"image {number} must be {_SIDE} rows of {_SIDE} numbers")
        if any(type(value) not in (int, float) for row in image for value in row):
            raise serve.BadInput(f"image {number}: every pixel must be a number, not a string or a boolean")
    pixels = np.asarray(images, dtype=np.float32)
    if pixels.min() < 0 or pixels.max() > 255:
        raise serve.BadInput(f"pixels must lie between 0 and 255, got {pixels.min():g} to {pixels.max():g}")
    return pixels


def _validator_with(*, keys="strict", rows="all", types="exact", low_end=True, limit=True, error=serve.BadInput):
    """A validator like the reference with one step done wrong; each keyword names a step and how it goes wrong."""
    def read_images(payload, max_images):
        if not isinstance(payload, dict):
            raise error("not a JSON object")
        if keys == "strict" and set(payload) not in ({"image"}, {"images"}):
            raise error("wrong keys")
        images = payload["images"] if "images" in payload else [payload["image"]]   # loose keys: KeyError
        if not isinstance(images, list) or not images or (limit and len(images) > max_images):
            raise error("wrong number of images")
        for image in images:
            checked_rows = image if rows == "all" else image[:1]
            if not (isinstance(image, list) and len(image) == _SIDE
                    and all(isinstance(row, list) and len(row) == _SIDE for row in checked_rows)):
                raise error("wrong shape")
            values = [value for row in image for value in row]
            if types == "exact" and any(type(value) not in (int, float) for value in values):
                raise error("not a number")
            if types == "isinstance" and any(not isinstance(value, (int, float)) for value in values):
                raise error("not a number")
        pixels = np.asarray(images, dtype=np.float32)   # ragged rows: ValueError; numeric strings: converted
        if (low_end and pixels.min() < 0) or pixels.max() > 255:
            raise error("out of range")
        return pixels
    return read_images


_READ_IMAGES_MISTAKES = (
    Mistake('a request whose key is neither "image" nor "images" made your function fail with KeyError: look at the '
            "keys first and refuse anything else with serve.BadInput (the service would answer 500, a server error)",
            _validator_with(keys="loose")),
    Mistake("an image with one short row got through your shape check (it looks at the first row only), and numpy "
            "then failed with ValueError: every one of the 28 rows must hold 28 numbers",
            _validator_with(rows="first")),
    Mistake("a pixel `true` (a boolean) was accepted: in Python bool is a subclass of int, so an isinstance test for "
            "numbers lets True and False through; test the exact type",
            _validator_with(types="isinstance")),
    Mistake('a pixel "12" (a string) was accepted: converting to a float array silently turns numeric strings into '
            "numbers, so the types must be checked before converting",
            _validator_with(types="none")),
    Mistake("a pixel of -1 was accepted: the range check must test the lower end (0) as well as the upper end (255)",
            _validator_with(low_end=False)),
    Mistake("more images than max_images were accepted: one request could make the service work for minutes; "
            "refuse it with serve.BadInput",
            _validator_with(limit=False)),
    Mistake("your function rejects bad requests with ValueError, not serve.BadInput: the service answers only "
            "serve.BadInput with 422 (the client's mistake); any other error becomes 500, a server error",
            _validator_with(error=ValueError)),
)


def _request_cases():
    """(label, payload, max_images, must_reject) for every case, valid requests first."""
    rng = np.random.default_rng(60)
    images = rng.integers(0, 256, size=(4, _SIDE, _SIDE)).tolist()
    decimals = np.round(rng.random((_SIDE, _SIDE)) * 255, 2).tolist()
    ragged = [row[:] for row in images[0]]
    ragged[17] = ragged[17][:27]

    def with_pixel(value):
        image = [row[:] for row in images[1]]
        image[5][9] = value
        return {"images": [images[0], image]}

    return [
        ("two images of integer pixels", {"images": images[:2]}, 8, False),
        ('one image with decimal pixels under "image"', {"image": decimals}, 8, False),
        ("exactly max_images images", {"images": images[:3]}, 3, False),
        ("a JSON list instead of an object", images[:1], 8, True),
        ('the key "pixels" instead of "images"', {"pixels": images[:1]}, 8, True),
        ('both "image" and "images"', {"image": images[0], "images": images[:1]}, 8, True),
        ("an empty list of images", {"images": []}, 8, True),
        ("an image of 27 rows", {"images": [images[0][:27]]}, 8, True),
        ("an image with one row of 27 pixels", {"images": [ragged]}, 8, True),
        ("an image as one flat list of 784 pixels", {"images": [sum(images[0], [])]}, 8, True),
        ('a pixel "12" (a string)', with_pixel("12"), 8, True),
        ("a pixel true (a boolean)", with_pixel(True), 8, True),
        ("a pixel of 256", with_pixel(256), 8, True),
        ("a pixel of -1", with_pixel(-1), 8, True),
        ("four images when max_images is 3", {"images": images}, 3, True),
    ]


def _outcome_of(read_images):
    """Call the learner's validator as the service does; a bad request's outcome becomes a sentence."""
    def outcome(label, payload, max_images, must_reject):
        if not must_reject:
            return read_images(payload, max_images)   # errors here are reported by run_check
        try:
            answer = read_images(payload, max_images)
        except NotImplementedError:
            raise
        except serve.BadInput as error:
            return f"serve.BadInput for {label}" if str(error) else f"serve.BadInput without a message for {label}"
        except Exception as error:  # the wrong kind of error: say which
            return f"{type(error).__name__} for {label}"
        return f"None returned for {label}" if answer is None else f"accepted {label}"
    return outcome


@recognising(*_READ_IMAGES_MISTAKES)
def check_read_images(read_images) -> Verdict:
    """``read_images(payload, max_images)``: a decoded JSON request -> float pixels (N, 28, 28) in 0..255, or
    ``serve.BadInput`` with a message. Three valid requests (tolerance 0) and twelve bad ones."""
    cases = [((label, payload, max_images, must_reject),
              f"serve.BadInput for {label}" if must_reject else serve.images_from_json(payload, max_images=max_images))
             for label, payload, max_images, must_reject in _request_cases()]
    learner = _outcome_of(read_images) if callable(read_images) else read_images
    mistakes = tuple(Mistake(mistake.diagnosis, _outcome_of(mistake.wrong)) for mistake in _READ_IMAGES_MISTAKES)
    return run_check("read_images", learner, cases, tolerance=0, describe_inputs=False, mistakes=mistakes,
                     start='Start with the outside of the request: is it a dict, with exactly one of the keys "image" or '
                           '"images"? Then the list of images, then each image, then each pixel.',
                     hint="Go through the request from the outside in, and for each level ask what a careless or hostile "
                          "client could send instead: another type, another length, another kind of value.")
