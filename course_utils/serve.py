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

``GET /health`` answers ``{"status": "ok", ...}``. Errors come back as
``{"error": "what went wrong"}`` with status 400 (not valid JSON), 404 (unknown
path), 405 (wrong method), 411 (no Content-Length), 413 (body larger than
``max_body_bytes``) or 422 (valid JSON, but not images: wrong keys, shape,
type or values outside 0..255). A bad request never stops the service.
"""

from __future__ import annotations

import argparse
import json
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import torch
from torch import nn

from course_utils import data


MAX_IMAGES = 1024
MAX_BODY_BYTES = 8 * 1024 * 1024   # 1,024 images written as "255," need about 4 MB
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_DRAIN_LIMIT = 16 * 1024 * 1024    # read (and discard) at most this much of an oversized body


class BadInput(ValueError):
    """The request is valid JSON but does not hold images the service accepts (HTTP 422)."""


def _reject_constant(name: str):
    raise ValueError(f"{name} is not allowed in JSON")


def parse_json(body: bytes):
    """Decode a request body as strict JSON (no NaN or Infinity). Raises ValueError when it is not."""
    return json.loads(body.decode("utf-8"), parse_constant=_reject_constant)


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
                    raise BadInput(f"image {number} holds {value!r} ({type(value).__name__}); pixels must be numbers 0..255")
    array = np.asarray(images, dtype=np.float64)
    low, high = array.min(), array.max()
    if low < 0 or high > 255:
        raise BadInput(f"pixels must lie between 0 and 255, got values from {low:g} to {high:g}")
    return array.astype(np.float32)


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
    timeout = 30  # seconds a client may take to send its request before the connection is dropped

    def log_message(self, format, *args):  # noqa: A002 (the name comes from the base class)
        if self.server.verbose:
            super().log_message(format, *args)

    def _send_json(self, status: int, content: dict) -> None:
        body = json.dumps(content).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):  # the client left before reading the answer
            self.close_connection = True

    def _error(self, status: int, message: str) -> None:
        self.close_connection = True
        self._send_json(status, {"error": message})

    def do_GET(self):  # noqa: N802 (name fixed by http.server)
        if self.path == "/health":
            self._send_json(HTTPStatus.OK, {"status": "ok", "model": self.server.classifier.name,
                                            "max_images": self.server.max_images, "max_body_bytes": self.server.max_body_bytes})
        elif self.path == "/predict":
            self._error(HTTPStatus.METHOD_NOT_ALLOWED, "use POST for /predict")
        else:
            self._error(HTTPStatus.NOT_FOUND, f"no such path {self.path!r}; try POST /predict or GET /health")

    def do_POST(self):  # noqa: N802
        if self.path != "/predict":
            self._error(HTTPStatus.NOT_FOUND, f"no such path {self.path!r}; try POST /predict or GET /health")
            return
        length_text = self.headers.get("Content-Length")
        if length_text is None:
            self._error(HTTPStatus.LENGTH_REQUIRED, "send a Content-Length header with the JSON body")
            return
        try:
            length = int(length_text)
            if length < 0:
                raise ValueError
        except ValueError:
            self._error(HTTPStatus.BAD_REQUEST, f"Content-Length must be a whole number of bytes, got {length_text!r}")
            return
        if length > self.server.max_body_bytes:
            self._drain(length)
            self._error(HTTPStatus.REQUEST_ENTITY_TOO_LARGE,
                        f"body of {length:,} bytes is larger than the limit of {self.server.max_body_bytes:,}; send fewer images per request")
            return
        body = self.rfile.read(length)
        try:
            payload = parse_json(body)
        except (ValueError, UnicodeDecodeError) as error:
            self._error(HTTPStatus.BAD_REQUEST, f"the body is not valid JSON: {error}")
            return
        try:
            pixels = images_from_json(payload, max_images=self.server.max_images)
        except BadInput as error:
            self._error(HTTPStatus.UNPROCESSABLE_ENTITY, str(error))
            return
        try:
            answer = self.server.classifier.predict(pixels)
        except Exception as error:  # never let one request take the service down
            self._error(HTTPStatus.INTERNAL_SERVER_ERROR, f"prediction failed: {type(error).__name__}")
            return
        self._send_json(HTTPStatus.OK, answer)

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


class DigitServer(ThreadingHTTPServer):
    """``ThreadingHTTPServer`` (one thread per request) holding the classifier and the limits."""

    daemon_threads = True
    request_queue_size = 128  # connections waiting to be accepted

    def __init__(self, address, classifier: DigitClassifier, *, max_body_bytes: int = MAX_BODY_BYTES,
                 max_images: int = MAX_IMAGES, verbose: bool = False):
        self.classifier = classifier
        self.max_body_bytes = max_body_bytes
        self.max_images = max_images
        self.verbose = verbose
        super().__init__(address, _Handler)


def make_server(model: nn.Module | str | Path, *, host: str = DEFAULT_HOST, port: int = 0, device: str = "cpu",
                max_body_bytes: int = MAX_BODY_BYTES, max_images: int = MAX_IMAGES, verbose: bool = False) -> DigitServer:
    """A server for ``model`` (a module, or the path of weights saved by ``deployment.save_model``).

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
                       max_images=max_images, verbose=verbose)


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
