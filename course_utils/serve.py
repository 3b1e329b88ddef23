"""A small HTTP service that classifies handwritten digits (notebook 06), standard library only.

Run it from a shell (it binds to 127.0.0.1, this computer only, unless told otherwise)::

    python -m course_utils.serve --model model.pt --port 8000

or from Python, in a background thread::

    server = serve.make_server(model)                 # a free port on 127.0.0.1
    thread = serve.start_in_background(server)
    ... requests to serve.url(server) ...
    serve.stop(server, thread)

The API
-------
``POST /predict`` with a JSON object, either one image or many::

    {"image":  [[0, 0, ..., 0], ... 28 rows of 28 numbers ...]}
    {"images": [ image, image, ... ]}              (1 to MAX_IMAGES images)

Pixels are numbers from 0 to 255, as in the MNIST files: 0 is the background,
255 the darkest ink (integers or decimals; not strings, not booleans). The answer::

    {"predictions": [7, 2], "probabilities": [[p0, ..., p9], [p0, ..., p9]]}

A request may say which kind of image it holds with a ``"format"`` field: ``"mnist"`` (the
default, as above: 28×28, already size-normalised and centred like MNIST) or ``"drawing"``:
a raw drawing of any size from 1×1 to ``MAX_DRAWING_SIDE`` square (0 background, 255 ink),
which the service turns into an MNIST-like image first with ``mnist_style`` (at most
``MAX_DRAWINGS`` drawings and ``MAX_DRAWING_PIXELS`` pixels per request); the answer then
also holds ``"inputs"``, the 28×28 pixels the model received (rounded). An empty drawing is a
422 ("nothing drawn"); any other format is a 422 too::

    {"format": "drawing", "image": [[0, 0, 255, ...], ...]}       or  {"format": "drawing", "images": [drawing, ...]}

``GET /`` is a page to draw a digit on with the mouse, a finger or a pen (``course_utils/web``;
no other site is contacted, and every answer carries a Content-Security-Policy that allows only
the service's own origin). ``GET /health`` answers ``{"status": "ok", ...}``. Every error, whatever the
request, comes back as JSON ``{"error": "what went wrong"}`` with status 400 (not
valid JSON, nested deeper than ``MAX_JSON_DEPTH``, a number of more than
``MAX_NUMBER_DIGITS`` digits, a Content-Length that is not one plain number),
404 (unknown path), 405 (any method but GET and POST), 411 (no Content-Length),
413 (body larger than ``max_body_bytes``), 414/431 (request line or headers too
long), 422 (valid JSON, but not images: wrong keys, shape, type or values
outside 0..255; the offending value is quoted in at most 40 characters) or 503
(more than ``MAX_CONNECTIONS`` connections at once). A request must arrive whole
within ``REQUEST_DEADLINE_SECONDS``; at most ``MAX_PARALLEL_DECODES`` requests
decode their JSON at once, and no body within the size limit decodes to more
than ``max_json_values`` values, so memory stays bounded. A bad request never
stops the service.
"""

from __future__ import annotations

import argparse
import json
import re
import socket
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from course_utils import data


MAX_IMAGES = 1024
MAX_BODY_BYTES = 8 * 1024 * 1024   # 1,024 images written as "255," need about 4 MB
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_DRAIN_LIMIT = 16 * 1024 * 1024    # read (and discard) at most this much of an oversized body

# Bounds on the work one request may cause, whatever it holds (tests/test_service_hostile.py tries them).
MAX_JSON_DEPTH = 8                 # {"images": [image [row [pixel]]]} is 4 deep
MAX_NUMBER_DIGITS = 20             # a pixel never needs more; Python's int() of 4,300+ digits is slow and refused
REQUEST_DEADLINE_SECONDS = 20.0    # the whole request (headers and body) must arrive within this
MAX_CONNECTIONS = 32               # connections handled at once; more get 503 at once
MAX_PARALLEL_DECODES = 4           # requests decoding and checking their JSON at once
_ECHO_CHARACTERS = 40              # how much of an offending value an error message repeats

# Raw drawings ("format": "drawing"): what one may be, and how it becomes MNIST-like (mnist_style).
MAX_DRAWING_SIDE = 512             # height and width 1..512: 512×512 values fit max_json_values with room to spare
MAX_DRAWINGS = 16                  # drawings per request ...
MAX_DRAWING_PIXELS = 3 * MAX_DRAWING_SIDE ** 2   # ... and pixels in all: three of the largest (what max_json_values allows)
MNIST_BOX_SIDE = 20                # MNIST scaled each digit's longer side to 20 pixels ...
MNIST_CENTRE = data.IMAGE_SIDE / 2     # ... and put its centre of mass at row and column 14.0 (pixel indices 0..27):
                                       # measured, the bundled training digits' mean centre of mass is (13.99, 14.00)
INK_LEVEL = 32                     # pixels at or above this (of 255) are ink for the bounding box; below, background
WEB_FOLDER = Path(__file__).resolve().parent / "web"
WEB_FILES = {"/": ("draw.html", "text/html; charset=utf-8"), "/draw.js": ("draw.js", "text/javascript; charset=utf-8"),
             "/draw.css": ("draw.css", "text/css; charset=utf-8"), "/favicon.svg": ("favicon.svg", "image/svg+xml")}
# Every answer: only the service's own origin may provide scripts, styles, images and connections; nothing inline.
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
                               "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class BadInput(ValueError):
    """The request is valid JSON but does not hold images the service accepts (HTTP 422)."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def _parse_int(text: str) -> int:
    if len(text) > MAX_NUMBER_DIGITS:
        raise ValueError(f"a number of {len(text):,} digits is not a pixel value (pixels are 0..255)")
    return int(text)


def short(message, limit: int = 300) -> str:
    """``str(message)`` cut to ``limit`` characters, for error answers."""
    text = str(message)
    return text if len(text) <= limit else text[:limit] + "…"


def _echo(value) -> str:
    """A short, safe prefix of ``repr(value)`` for an error message."""
    text = repr(value)
    return text if len(text) <= _ECHO_CHARACTERS else text[:_ECHO_CHARACTERS] + "…"


def json_shape(body: bytes | bytearray, *, chunk_bytes: int = 1 << 18) -> tuple[int, int]:
    """(deepest nesting, number of values) of a JSON text, counted from its brackets and commas.

    Counted in numpy, 256 kB at a time, so it is fast and needs little memory. Brackets inside
    strings count too, which can only overestimate: a request of pixels holds no strings.
    """
    codes = np.frombuffer(body, dtype=np.uint8)
    depth = deepest = values = 0
    for start in range(0, len(codes), chunk_bytes):
        chunk = codes[start:start + chunk_bytes]
        opens = (chunk == ord("[")) | (chunk == ord("{"))
        levels = depth + np.cumsum(opens.astype(np.int32) - ((chunk == ord("]")) | (chunk == ord("}"))))
        deepest = max(deepest, int(levels.max()))
        depth = int(levels[-1])
        values += int(opens.sum() + (chunk == ord(",")).sum())
    return deepest, values + 1


def max_json_values(max_images: int = MAX_IMAGES) -> int:
    """The most values (numbers, lists, objects) a request of ``max_images`` images can hold."""
    return max_images * (data.IMAGE_SIDE * data.IMAGE_SIDE + data.IMAGE_SIDE + 1) + 16


class RefusedBody(ValueError):
    """A body refused before decoding: nested too deep, or more values than any request needs (HTTP 400)."""


def parse_json(body: bytes | bytearray):
    """Decode a request body as strict JSON (no NaN or Infinity). Raises ValueError when it is not.

    Before decoding, the body's nesting and number of values are bounded (``MAX_JSON_DEPTH``,
    ``max_json_values``: ``RefusedBody``), so no body within the size limit decodes deep or large.
    """
    depth, values = json_shape(body)
    if depth > MAX_JSON_DEPTH:
        raise RefusedBody(f"nested {depth} levels deep; images need 4 ({{\"images\": [image [row [pixel]]]}})")
    if values > max_json_values():
        raise RefusedBody(f"{values:,} values is more than any request may hold ({MAX_IMAGES} images of 28×28, "
                          f"or drawings of {MAX_DRAWING_PIXELS:,} pixels in all)")
    try:
        return json.loads(body.decode("utf-8"), parse_constant=_reject_constant, parse_int=_parse_int)
    except RecursionError:
        raise ValueError("nested too deeply") from None


def images_from_json(payload, *, max_images: int = MAX_IMAGES) -> np.ndarray:
    """Check a decoded request and return its images as float32 (N, 28, 28) with pixels 0..255.

    ``payload`` is ``{"image": 28×28 nested lists}`` or ``{"images": N×28×28}``; every
    pixel must be an int or float (not a bool or string) between 0 and 255.
    Raises ``BadInput`` saying what is wrong.
    """
    if not isinstance(payload, dict):
        raise BadInput(f'the body must be a JSON object like {{"images": [...]}}, got a JSON {type(payload).__name__}')
    keys = set(payload) & {"image", "images"}
    if len(keys) != 1:
        raise BadInput('give exactly one of "image" (one 28×28 image) or "images" (a list of them)')
    key = keys.pop()
    images = [payload["image"]] if key == "image" else payload["images"]
    if not isinstance(images, list) or not images:
        raise BadInput(f'"{key}" must be a non-empty list')
    if len(images) > max_images:
        raise BadInput(f"at most {max_images} images per request, got {len(images)}: split them over several requests")
    for number, image in enumerate(images):
        if not (isinstance(image, list) and len(image) == data.IMAGE_SIDE
                and all(isinstance(row, list) and len(row) == data.IMAGE_SIDE for row in image)):
            raise BadInput(f"image {number} must be {data.IMAGE_SIDE} rows of {data.IMAGE_SIDE} numbers")
        for row in image:
            for value in row:
                if type(value) not in (int, float):  # bool is a subclass of int: excluded on purpose
                    raise BadInput(f"image {number} holds {_echo(value)} ({type(value).__name__}); pixels must be numbers 0..255")
    array = np.asarray(images, dtype=np.float64)
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise BadInput(f"pixels must lie between 0 and 255, got values from {low:g} to {high:g}")
    return array.astype(np.float32)


def drawing_array(drawing) -> np.ndarray:
    """Check one raw drawing (a 2-D array or nested lists of numbers 0..255) and return it as float32 (H, W).

    Raises ``BadInput`` for anything else: another number of dimensions, an empty or too large
    array (sides 1..``MAX_DRAWING_SIDE``), booleans, strings or other non-numbers, NaN, values outside 0..255.
    """
    try:
        array = np.asarray(drawing) if not isinstance(drawing, np.ndarray) else drawing
    except ValueError:  # nested lists of unequal lengths
        raise BadInput("a drawing must be a rectangular grid of pixels: every row as long as the first") from None
    if array.dtype == bool or array.dtype.kind not in "iuf":
        raise BadInput(f"a drawing must hold numbers 0..255, got {array.dtype.name} values: "
                       "send a 2-D array of pixels (0 background, 255 ink)")
    if array.ndim != 2 or min(array.shape) < 1:
        raise BadInput(f"a drawing must be a 2-D grid of pixels (rows × columns), got shape {array.shape}")
    if max(array.shape) > MAX_DRAWING_SIDE:
        raise BadInput(f"a drawing of {array.shape[0]}×{array.shape[1]} pixels is larger than "
                       f"{MAX_DRAWING_SIDE}×{MAX_DRAWING_SIDE}: scale it down before sending it")
    array = array.astype(np.float32)
    if not np.isfinite(array).all() or array.min() < 0 or array.max() > 255:
        raise BadInput(f"a drawing's pixels must lie between 0 and 255, got values from {array.min():g} to {array.max():g}")
    return array


def mnist_style(drawing) -> np.ndarray:
    """A raw drawing (H, W) of any size, 0 background and 255 ink -> a 28×28 float32 image prepared as MNIST was.

    1. crop to the bounding box of the ink (pixels >= ``INK_LEVEL``);
    2. scale it so its longer side is ``MNIST_BOX_SIDE`` (20) pixels, keeping the aspect ratio, with
       anti-aliasing (bilinear with antialias=True: grey levels at the edges, as MNIST has);
    3. stretch the grey levels so the darkest ink is 255 (MNIST's digits reach 254 or 255);
    4. place it in a 28×28 field with its centre of mass where MNIST's digits have it (``MNIST_CENTRE``,
       row and column 14.0), moved by whole pixels and kept inside the field.
    The result has MNIST's pixel scale (0..255), so ``normalize_pixels`` treats it exactly as the training data.
    Every pixel at the ink level counts: a stray speck far from the digit widens the box and shrinks the digit,
    and a lone dot becomes a filled 20×20 square.
    Raises ``BadInput`` with "nothing drawn" when no pixel reaches ``INK_LEVEL``, and for invalid drawings.
    """
    array = drawing_array(drawing)
    rows, columns = np.nonzero(array >= INK_LEVEL)
    if rows.size == 0:
        raise BadInput(f"nothing drawn: no pixel reaches the ink level {INK_LEVEL} of 255 (0 is the background)")
    box = array[rows.min():rows.max() + 1, columns.min():columns.max() + 1]
    scale = MNIST_BOX_SIDE / max(box.shape)
    height, width = (max(1, round(side * scale)) for side in box.shape)
    scaled = F.interpolate(torch.from_numpy(np.ascontiguousarray(box))[None, None], size=(height, width),
                           mode="bilinear", antialias=True, align_corners=False)[0, 0].clamp(0, 255).numpy()
    scaled = scaled * (255.0 / scaled.max())
    mass = scaled.sum()
    centre_row = (scaled.sum(axis=1) * np.arange(height)).sum() / mass
    centre_column = (scaled.sum(axis=0) * np.arange(width)).sum() / mass
    top = int(np.clip(round(MNIST_CENTRE - centre_row), 0, data.IMAGE_SIDE - height))
    left = int(np.clip(round(MNIST_CENTRE - centre_column), 0, data.IMAGE_SIDE - width))
    image = np.zeros((data.IMAGE_SIDE, data.IMAGE_SIDE), dtype=np.float32)
    image[top:top + height, left:left + width] = scaled
    return image


def drawings_from_json(payload: dict) -> np.ndarray:
    """``{"image": drawing}`` or ``{"images": [drawing, ...]}`` (the "format" key removed) -> MNIST-like (N, 28, 28).

    Each drawing is a list of rows of equal length holding numbers (not booleans or strings)
    0..255; each is checked by ``drawing_array`` and prepared by ``mnist_style``. Raises ``BadInput``.
    """
    keys = set(payload)
    if keys not in ({"image"}, {"images"}):
        raise BadInput('a drawing request holds "format": "drawing" and exactly one of "image" (one drawing) '
                       f'or "images" (a list of up to {MAX_DRAWINGS}), got the keys {sorted(keys)}')
    drawings = [payload["image"]] if "image" in payload else payload["images"]
    if not isinstance(drawings, list) or not 1 <= len(drawings) <= MAX_DRAWINGS:
        raise BadInput(f'"images" must be a list of 1 to {MAX_DRAWINGS} drawings')
    for number, drawing in enumerate(drawings):
        if not (isinstance(drawing, list) and drawing and all(isinstance(row, list) for row in drawing)
                and len({len(row) for row in drawing}) == 1):
            raise BadInput(f"drawing {number} must be a non-empty list of rows, all of the same length")
    total = sum(len(drawing) * len(drawing[0]) for drawing in drawings)
    if total > MAX_DRAWING_PIXELS:
        raise BadInput(f"{total:,} pixels of drawings in one request is more than {MAX_DRAWING_PIXELS:,}: "
                       "send fewer or smaller drawings per request")
    for number, drawing in enumerate(drawings):
        for row in drawing:
            for value in row:
                if type(value) not in (int, float):
                    raise BadInput(f"drawing {number} holds {_echo(value)} ({type(value).__name__}); pixels must be numbers 0..255")
    return np.stack([mnist_style(np.asarray(drawing, dtype=np.float64)) for drawing in drawings])


def read_request(payload, read_images: Callable = images_from_json, *, max_images: int = MAX_IMAGES) -> tuple[np.ndarray, bool]:
    """A decoded request -> (pixels (N, 28, 28) in 0..255, whether they were prepared from raw drawings).

    ``"format": "drawing"`` goes through ``drawings_from_json``; ``"format": "mnist"`` or no format
    goes to ``read_images`` without the "format" key. Raises ``BadInput`` for any other format.
    """
    if not (isinstance(payload, dict) and "format" in payload):
        return read_images(payload, max_images=max_images), False
    rest = {key: value for key, value in payload.items() if key != "format"}
    if payload["format"] == "drawing":
        return drawings_from_json(rest), True
    if payload["format"] == "mnist":
        return read_images(rest, max_images=max_images), False
    raise BadInput(f'"format" must be "mnist" (28×28 images like MNIST\'s, the default) or "drawing" '
                   f"(a raw drawing up to {MAX_DRAWING_SIDE}×{MAX_DRAWING_SIDE}, prepared by the service), "
                   f"got {_echo(payload['format'])}")


def normalize_pixels(pixels: np.ndarray) -> torch.Tensor:
    """Pixels 0..255 (N, 28, 28) -> the model's input (N, 1, 28, 28): /255, then the training mean and std."""
    tensor = torch.from_numpy(np.ascontiguousarray(pixels, dtype=np.float32)) / 255.0
    return ((tensor - data.PIXEL_MEAN) / data.PIXEL_STD).unsqueeze(1)


class DigitClassifier:
    """The model behind the service: pixels 0..255 in, digits and probabilities out. Thread-safe for inference."""

    def __init__(self, model: nn.Module, *, device: str | torch.device = "cpu", name: str = "cnn"):
        self.device = torch.device(device)
        self.model = model.to(self.device).eval()
        self.name = name

    @torch.no_grad()
    def predict(self, pixels: np.ndarray) -> dict:
        """pixels float (N, 28, 28) in 0..255 -> {"predictions": [N ints], "probabilities": [N × 10 floats]}."""
        logits = self.model(normalize_pixels(pixels).to(self.device))
        probabilities = torch.softmax(logits.float(), dim=1).cpu().numpy()
        return {"predictions": probabilities.argmax(axis=1).tolist(),
                "probabilities": np.round(probabilities, 6).tolist()}


class _Handler(BaseHTTPRequestHandler):
    server_version = "DigitService/1.0"
    timeout = 10  # seconds any single read or write may wait; the whole request has REQUEST_DEADLINE_SECONDS

    def version_string(self) -> str:
        return self.server_version  # no Python version in the Server header

    def log_message(self, format, *args):  # noqa: A002 (the name comes from the base class)
        if self.server.verbose:
            super().log_message(format, *args)

    def setup(self):
        super().setup()
        # A watchdog ends the connection at the deadline, however slowly the client trickles its bytes in.
        self._watchdog = threading.Timer(self.server.request_deadline, self._expire)
        self._watchdog.daemon = True
        self._watchdog.start()

    def _expire(self) -> None:
        try:
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def finish(self):
        self._watchdog.cancel()
        try:
            super().finish()
        except OSError:  # the client or the watchdog closed the connection
            pass

    def _send_json(self, status: int, content: dict) -> None:
        body = json.dumps(content).encode("utf-8")
        try:
            self._send_head(status, "application/json", len(body))
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the client left before reading the answer
            self.close_connection = True

    def _send_head(self, status: int, content_type: str, length: int) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(length))
        for name, value in SECURITY_HEADERS.items():
            self.send_header(name, value)
        if status == HTTPStatus.METHOD_NOT_ALLOWED:
            self.send_header("Allow", "GET, POST")
        self.end_headers()

    def _send_file(self, path: str) -> None:
        """One of the page's files (``WEB_FILES``), read from ``WEB_FOLDER``."""
        name, content_type = WEB_FILES[path]
        try:
            body = (WEB_FOLDER / name).read_bytes()
        except OSError:
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"the page's file {name} is missing from {WEB_FOLDER}")
            return
        try:
            self._send_head(HTTPStatus.OK, content_type, len(body))
            self.wfile.write(body)
        except OSError:
            self.close_connection = True

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True
        self._send_json(status, {"error": message})

    def send_error(self, code, message=None, explain=None):
        """Every error is JSON, also those ``http.server`` raises itself (bad request line, 414, 431, unknown method)."""
        if self.request_version == "HTTP/0.9":  # a garbled request line: answer with a status line all the same
            self.request_version = "HTTP/1.0"
        if code == HTTPStatus.NOT_IMPLEMENTED:  # a method http.server has no handler for
            code, message = HTTPStatus.METHOD_NOT_ALLOWED, None
        if code == HTTPStatus.METHOD_NOT_ALLOWED:
            message = f"method {_echo(self.command)} is not allowed: use GET /health or POST /predict"
        self._error(code, message or HTTPStatus(code).phrase)

    def _not_allowed(self):
        self.send_error(HTTPStatus.METHOD_NOT_ALLOWED)

    do_HEAD = do_PUT = do_DELETE = do_OPTIONS = do_TRACE = do_PATCH = do_CONNECT = _not_allowed

    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        path = self.path.split("?", 1)[0]  # GET /?from=notebook is the page too
        if path == "/health":
            self._send_json(HTTPStatus.OK, {"status": "ok", "model": self.server.classifier.name,
                                            "max_images": self.server.max_images, "max_body_bytes": self.server.max_body_bytes})
        elif path in WEB_FILES:
            self._send_file(path)
        elif path == "/predict":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST for /predict")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path {_echo(self.path)}; try GET / (the drawing page), POST /predict or GET /health")

    def do_POST(self):  # noqa: N802
        if self.path != "/predict":
            self._error(HTTPStatus.NOT_FOUND, f"no such path {_echo(self.path)}; try GET / (the drawing page), POST /predict or GET /health")
            return
        length = self._content_length()
        if length is None:
            return
        body = self._read_body(length)
        if body is None:  # the client stopped sending, or its time ran out
            self.close_connection = True
            return
        with self.server.decoding:
            status, answer = self._answer(body)
        self._send_json(status, answer)

    def _read_body(self, length: int) -> bytearray | None:
        """The body, read straight into one buffer of ``length`` bytes (no second copy); None if it stops short."""
        body, received = bytearray(length), 0
        view = memoryview(body)
        try:
            while received < length:
                count = self.rfile.readinto(view[received:])
                if not count:
                    return None
                received += count
        except OSError:
            return None
        finally:
            view.release()
        return body

    def _content_length(self) -> int | None:
        """The body's length from its one Content-Length header, or None after answering with an error."""
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            self._error(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header with the JSON body")
            return None
        if len(lengths) > 1 or not re.fullmatch(r"[0-9]{1,15}", lengths[0]):
            self._error(HTTPStatus.BAD_REQUEST, "send exactly one Content-Length header, a whole number of bytes "
                                                f"(digits only), got {_echo(lengths if len(lengths) > 1 else lengths[0])}")
            return None
        length = int(lengths[0])
        if length > self.server.max_body_bytes:
            self._drain(length)
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"body of {length:,} bytes is larger than the limit of {self.server.max_body_bytes:,}; send fewer images per request")
            return None
        return length

    def _answer(self, body: bytes) -> tuple[int, dict]:
        """(status, JSON answer) for a request body: decode, validate, predict."""
        try:
            payload = parse_json(body)
        except RefusedBody as error:
            return HTTPStatus.BAD_REQUEST, {"error": f"the body was refused: {error}"}
        except (ValueError, UnicodeDecodeError) as error:
            return HTTPStatus.BAD_REQUEST, {"error": f"the body is not valid JSON: {short(error)}"}
        try:
            pixels, from_drawings = read_request(payload, self.server.read_images, max_images=self.server.max_images)
        except BadInput as error:
            return HTTPStatus.UNPROCESSABLE_ENTITY, {"error": short(error)}
        except Exception as error:  # a validator of the notebook's own that failed
            return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"reading the request failed: {type(error).__name__}"}
        try:
            answer = self.server.classifier.predict(pixels)
        except Exception as error:  # never let one request take the service down
            return HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"prediction failed: {type(error).__name__}"}
        if from_drawings:
            answer["inputs"] = np.rint(pixels).astype(int).tolist()
        return HTTPStatus.OK, answer

    def _drain(self, length: int) -> None:
        """Read and drop an oversized body, so the client sees the 413 instead of a connection reset.

        Only bodies up to ``_DRAIN_LIMIT`` are drained, and only while data keep coming
        (one second of silence ends it): a client cannot hold the thread by announcing a huge body.
        """
        if length > _DRAIN_LIMIT:
            return
        remaining = length
        try:
            self.connection.settimeout(1.0)
            while remaining > 0:
                chunk = self.rfile.read1(min(remaining, 1 << 16))
                if not chunk:
                    break
                remaining -= len(chunk)
        except OSError:  # includes the timeout
            pass


_BUSY_ANSWER = json.dumps({"error": "the service is busy: too many connections at once; try again in a moment"}).encode()


class DigitServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` (one thread per connection, at most ``max_connections``) holding the classifier and the limits."""

    daemon_threads = True
    request_queue_size = 128  # connections waiting to be accepted

    def __init__(self, address, classifier: DigitClassifier, *, max_body_bytes: int = MAX_BODY_BYTES,
                 max_images: int = MAX_IMAGES, verbose: bool = False, read_images: Callable = images_from_json,
                 max_connections: int = MAX_CONNECTIONS, request_deadline: float = REQUEST_DEADLINE_SECONDS):
        self.classifier = classifier
        self.read_images = read_images
        self.max_body_bytes = max_body_bytes
        self.max_images = max_images
        self.verbose = verbose
        self.request_deadline = request_deadline
        self.connection_slots = threading.BoundedSemaphore(max_connections)
        self.decoding = threading.BoundedSemaphore(MAX_PARALLEL_DECODES)
        super().__init__(address, _Handler)

    def process_request(self, request, client_address):
        """Hand the connection to a new thread if a slot is free; else answer 503 at once and close it."""
        if not self.connection_slots.acquire(blocking=False):
            security = "".join(f"{name}: {value}\r\n" for name, value in SECURITY_HEADERS.items())
            head = (f"HTTP/1.0 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n{security}"
                    f"Content-Length: {len(_BUSY_ANSWER)}\r\nConnection: close\r\n\r\n").encode()
            try:
                request.settimeout(1.0)
                request.sendall(head + _BUSY_ANSWER)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self.connection_slots.release()
            raise

    def process_request_thread(self, request, client_address):
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.connection_slots.release()


def make_server(model: nn.Module | str | Path, *, host: str = DEFAULT_HOST, port: int = 0, device: str = "cpu",
                max_body_bytes: int = MAX_BODY_BYTES, max_images: int = MAX_IMAGES, verbose: bool = False,
                read_images: Callable = images_from_json) -> DigitServer:
    """A server for ``model`` (a module, or the path of weights saved by ``deployment.save_model``).

    ``read_images(payload, max_images=...)`` turns the decoded JSON into pixels (N, 28, 28) or raises
    ``BadInput`` (answered with 422); the default is ``images_from_json``, and notebook 06 passes its own.

    ``port=0`` lets the system pick a free port: read it from ``server.server_address[1]``.
    Binds to 127.0.0.1 (this computer only) unless ``host`` says otherwise.
    Call ``serve_forever()`` or use ``start_in_background``.
    """
    if not isinstance(model, nn.Module):
        from course_utils import deployment

        model = deployment.load_model(model)
    if max_body_bytes < 1 or max_images < 1:
        raise ValueError("max_body_bytes and max_images must be positive")
    return DigitServer((host, port), DigitClassifier(model, device=device), max_body_bytes=max_body_bytes,
                       max_images=max_images, verbose=verbose, read_images=read_images)


def url(server: DigitServer, path: str = "") -> str:
    """``http://host:port`` of a running server, plus ``path``."""
    host, port = server.server_address[:2]
    return f"http://{host}:{port}{path}"


def start_in_background(server: DigitServer) -> threading.Thread:
    """Run ``server.serve_forever()`` in a daemon thread and return the thread."""
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True, name="digit-service")
    thread.start()
    return thread


def stop(server: DigitServer, thread: threading.Thread | None = None) -> None:
    """Stop serving, close the listening socket and wait for the thread to end."""
    server.shutdown()
    server.server_close()
    if thread is not None:
        thread.join(timeout=5)


def call(address: str, payload=None, *, body: bytes | None = None, timeout: float = 30) -> tuple[int, dict]:
    """Send ``payload`` as JSON (or raw ``body`` bytes) to ``address`` with urllib; GET when both are None.

    Returns ``(HTTP status, decoded JSON answer)``; error statuses are returned, not raised.
    """
    import urllib.error
    import urllib.request

    if payload is not None:
        body = json.dumps(payload).encode("utf-8")
    request = urllib.request.Request(address, data=body, method="GET" if body is None else "POST",
                                     headers={"Content-Type": "application/json"} if body is not None else {})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read() or b"{}")


def images_payload(images) -> dict:
    """uint8 images (N, 28, 28) or one (28, 28) -> the JSON-ready request body {"images": [...]}."""
    images = np.asarray(images)
    if images.shape[-2:] != (data.IMAGE_SIDE, data.IMAGE_SIDE) or images.ndim not in (2, 3):
        raise ValueError(f"images must have shape (N, 28, 28) or (28, 28), got {images.shape}")
    return {"images": (images[None] if images.ndim == 2 else images).tolist()}


def main(argv: list[str] | None = None) -> None:
    """Command line: ``python -m course_utils.serve --model model.pt [--host 127.0.0.1] [--port 8000]``."""
    parser = argparse.ArgumentParser(description="Serve a digit classifier over HTTP (POST /predict, GET /health).")
    parser.add_argument("--model", required=True, help="weights saved by deployment.save_model (model card beside it)")
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to bind; 0.0.0.0 only inside a container")
    parser.add_argument("--port", type=int, default=DEFAULT_PORT)
    parser.add_argument("--threads", type=int, default=1, help="torch threads per request (default 1: requests run in parallel)")
    arguments = parser.parse_args(argv)
    torch.set_num_threads(arguments.threads)
    server = make_server(arguments.model, host=arguments.host, port=arguments.port, verbose=True)
    print(f"serving {arguments.model} on {url(server)} (POST /predict, GET /health); Ctrl-C stops", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
