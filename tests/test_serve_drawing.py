"""Raw drawings made MNIST-like (serve.mnist_style), the "format" field of POST /predict, and the page at GET /."""

from __future__ import annotations

import time
import urllib.error
import urllib.request

import numpy as np
import pytest
import torch

from course_utils import data, deployment, serve


def ink_box(image: np.ndarray, level: float = 1.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the pixels >= level, bottoms and rights inclusive."""
    rows, columns = np.nonzero(image >= level)
    return rows.min(), rows.max(), columns.min(), columns.max()


def centre_of_mass(image: np.ndarray) -> tuple[float, float]:
    mass = image.sum()
    return ((image.sum(axis=1) * np.arange(image.shape[0])).sum() / mass,
            (image.sum(axis=0) * np.arange(image.shape[1])).sum() / mass)


def canvas_with(shape, top, left, ink, value=255.0):
    canvas = np.zeros(shape, dtype=np.float32)
    canvas[top:top + ink.shape[0], left:left + ink.shape[1]] = ink * value
    return canvas


# --------------------------------------------------------------------------- the preprocessing

def test_the_result_is_an_mnist_sized_float_image_with_full_ink():
    ring = np.zeros((60, 40))
    ring[5:55, 5:35] = 1
    ring[15:45, 15:25] = 0
    image = serve.mnist_style(ring * 200)
    assert image.shape == (28, 28) and image.dtype == np.float32
    assert image.min() == 0 and image.max() == pytest.approx(255)


def test_only_the_inks_bounding_box_matters_not_where_it_was_drawn():
    stroke = np.zeros((30, 12))
    stroke[:, 4:8] = 1
    stroke[0:4, :] = 1                                  # a T, not symmetric top to bottom
    images = [serve.mnist_style(canvas_with((200, 150), top, left, stroke)) for top, left in [(0, 0), (100, 30), (170, 138)]]
    for image in images[1:]:
        np.testing.assert_allclose(image, images[0], atol=1e-3)


@pytest.mark.parametrize("height, width, expected", [(40, 10, (20, 5)), (10, 40, (5, 20)), (33, 33, (20, 20)),
                                                     (7, 200, (1, 20)), (1, 1, (20, 20)), (1, 5, (4, 20))])
def test_the_longer_side_becomes_20_pixels_keeping_the_aspect_ratio(height, width, expected):
    image = serve.mnist_style(canvas_with((max(height, 50) + 20, max(width, 50) + 20), 10, 10, np.ones((height, width))))
    top, bottom, left, right = ink_box(image, level=128)
    assert (bottom - top + 1, right - left + 1) == expected


@pytest.mark.parametrize("shape", ["bar", "ring", "corner", "dot"])
def test_the_centre_of_mass_lands_in_the_middle(shape):
    ink = np.zeros((60, 60))
    if shape == "bar":
        ink[:, 27:33] = 1
    elif shape == "ring":
        ink[:, :] = 1
        ink[8:52, 8:52] = 0
    elif shape == "corner":                              # an L: its mass sits low and left of its box's centre
        ink[:, :10] = 1
        ink[50:, :] = 1
    else:
        ink[29:31, 29:31] = 1
    image = serve.mnist_style(canvas_with((300, 300), 37, 211, ink))
    row, column = centre_of_mass(image)
    assert abs(row - serve.MNIST_CENTRE) <= 0.5 and abs(column - serve.MNIST_CENTRE) <= 0.5, (row, column)


def test_the_digit_stays_inside_the_field_when_centring_would_push_it_out():
    ink = np.zeros((40, 40))
    ink[:, :] = 0.02                                     # a faint box (below the ink level, so not cropped) ...
    ink[:3, :3] = 1                                      # ... around a heavy corner: the mass pulls far up-left
    ink[-1, -1] = 0.2                                    # and one inked pixel opposite, so the box is 40×40
    image = serve.mnist_style(ink * 255)
    top, bottom, left, right = ink_box(image, level=1e-3)
    assert top >= 0 and left >= 0 and bottom <= 27 and right <= 27
    assert (bottom - top + 1, right - left + 1) == (20, 20)


def test_the_centre_is_where_mnists_digits_have_theirs():
    images = data.load_mnist().train_images.astype(np.float64)
    centres = np.array([centre_of_mass(image) for image in images[:2000]])
    assert np.abs(centres.mean(axis=0) - serve.MNIST_CENTRE).max() < 0.05


def test_bundled_digits_stay_mnist_like():
    """MNIST's own digits already are size-normalised and centred: preparing them again changes little."""
    images = data.load_mnist().test_images[:100].astype(np.float32)
    for image in images:
        prepared = serve.mnist_style(image)
        top, bottom, left, right = ink_box(prepared, level=serve.INK_LEVEL)
        assert max(bottom - top, right - left) + 1 <= 20
        row, column = centre_of_mass(prepared)
        assert abs(row - serve.MNIST_CENTRE) <= 0.75 and abs(column - serve.MNIST_CENTRE) <= 0.75


def test_a_canvas_of_all_ink_is_a_centred_20_pixel_square():
    image = serve.mnist_style(np.full((120, 120), 255.0))
    top, bottom, left, right = ink_box(image)
    assert bottom - top + 1 == right - left + 1 == 20 and top in (4, 5) and left in (4, 5)
    assert np.all(image[top:bottom + 1, left:right + 1] == pytest.approx(255)) and image.sum() == pytest.approx(400 * 255)


def test_the_drawing_passed_in_is_not_changed():
    drawing = np.zeros((50, 50), dtype=np.float32)
    drawing[10:40, 20:25] = 180
    before = drawing.copy()
    serve.mnist_style(drawing)
    np.testing.assert_array_equal(drawing, before)


def test_nested_lists_and_integer_arrays_give_the_same_image():
    drawing = np.zeros((50, 40), dtype=np.uint8)
    drawing[5:45, 10:14] = 255
    expected = serve.mnist_style(drawing)
    np.testing.assert_allclose(serve.mnist_style(drawing.tolist()), expected)
    np.testing.assert_allclose(serve.mnist_style(drawing.astype(np.float64)), expected)


@pytest.mark.parametrize("drawing, message", [
    (np.zeros((112, 112)), "nothing drawn"),
    (np.full((112, 112), serve.INK_LEVEL - 1.0), "nothing drawn"),
    (np.zeros((0, 10)), "2-D grid"),
    (np.zeros(30), "2-D grid"),
    (np.zeros((4, 28, 28)), "2-D grid"),
    (np.zeros((serve.MAX_DRAWING_SIDE + 1, 10)), "larger than 512×512"),
    (np.zeros((10, 100_000)), "larger than 512×512"),
    (np.ones((20, 20), dtype=bool), "numbers 0..255"),
    (np.array([["0", "255"]]), "numbers 0..255"),
    (np.array([[1, None]], dtype=object), "numbers 0..255"),
    (np.ones((5, 5), dtype=complex), "numbers 0..255"),
    (np.full((5, 5), np.nan), "between 0 and 255"),
    (np.full((5, 5), np.inf), "between 0 and 255"),
    (np.full((5, 5), -1.0), "between 0 and 255"),
    (np.full((5, 5), 256.0), "between 0 and 255"),
    ([[255, 255], [255]], "rectangular grid"),
])
def test_bad_drawings_are_refused_with_a_clear_message(drawing, message):
    with pytest.raises(serve.BadInput, match=message):
        serve.mnist_style(drawing)


def test_the_largest_drawing_is_prepared_quickly():
    drawing = np.random.default_rng(0).uniform(0, 255, (serve.MAX_DRAWING_SIDE, serve.MAX_DRAWING_SIDE))
    started = time.perf_counter()
    serve.mnist_style(drawing)
    assert time.perf_counter() - started < 2.0      # about 0.05 s on a laptop; generous for a busy CI machine


# --------------------------------------------------------------------------- the JSON API

@pytest.fixture(scope="module")
def service(tmp_path_factory):
    torch.manual_seed(0)
    path = deployment.save_model(deployment.build_served_cnn(), tmp_path_factory.mktemp("drawing") / "cnn.pt")
    server = serve.make_server(path)
    thread = serve.start_in_background(server)
    yield server
    serve.stop(server, thread)


def predict(server, payload):
    return serve.call(serve.url(server, "/predict"), payload)


def test_a_drawing_is_prepared_by_the_service_and_the_input_is_returned(service):
    drawing = canvas_with((112, 112), 20, 60, np.ones((60, 12)))
    status, answer = predict(service, {"format": "drawing", "image": drawing.astype(int).tolist()})
    assert status == 200
    expected = serve.mnist_style(drawing)
    np.testing.assert_array_equal(np.array(answer["inputs"][0]), np.rint(expected).astype(int))
    _, as_mnist = predict(service, {"image": np.rint(expected).tolist()})
    assert answer["predictions"] == as_mnist["predictions"]
    np.testing.assert_allclose(answer["probabilities"], as_mnist["probabilities"], atol=1e-4)


def test_format_mnist_is_the_default_and_answers_as_before(service):
    image = data.load_mnist().test_images[0].tolist()
    status_default, default = predict(service, {"image": image})
    status_explicit, explicit = predict(service, {"format": "mnist", "image": image})
    assert status_default == status_explicit == 200 and default == explicit and "inputs" not in default


def test_several_drawings_of_different_sizes_in_one_request(service):
    drawings = [canvas_with((size, size + 7), 2, 3, np.ones((size - 4, 3))).tolist() for size in (9, 64, 300)]
    status, answer = predict(service, {"format": "drawing", "images": drawings})
    assert status == 200 and len(answer["predictions"]) == 3 and np.array(answer["inputs"]).shape == (3, 28, 28)


@pytest.mark.parametrize("payload, message", [
    ({"format": "drawing", "image": [[0] * 112] * 112}, "nothing drawn"),
    ({"format": "png", "image": [[0] * 28] * 28}, '"format" must be "mnist"'),
    ({"format": None, "image": [[0] * 28] * 28}, '"format" must be "mnist"'),
    ({"format": "drawing", "image": [[255] * 10, [255] * 9]}, "same length"),
    ({"format": "drawing", "image": []}, "non-empty list of rows"),
    ({"format": "drawing", "image": [[True] * 5] * 5}, "bool"),
    ({"format": "drawing", "image": [["255"] * 5] * 5}, "str"),
    ({"format": "drawing", "image": [[300] * 5] * 5}, "between 0 and 255"),
    ({"format": "drawing", "image": [[255] * 5] * 513}, "larger than 512×512"),
    ({"format": "drawing", "images": [[[255]]] * (serve.MAX_DRAWINGS + 1)}, f"1 to {serve.MAX_DRAWINGS} drawings"),
    ({"format": "drawing", "image": [[255]], "images": [[[255]]]}, 'exactly one of "image"'),
    ({"format": "drawing"}, 'exactly one of "image"'),
    ({"format": "mnist", "image": [[0] * 27] * 28}, "28 rows of 28"),
    ({"format": "drawing", "images": [[[255] * 300] * 300] * 9}, "more than 786,432"),
])
def test_bad_requests_are_422_with_a_message(service, payload, message):
    status, answer = predict(service, payload)
    assert status == 422 and message in answer["error"], answer


def test_a_notebooks_own_validator_never_sees_the_format_key(tmp_path):
    seen = []

    def read_images(payload, max_images):
        seen.append(sorted(payload))
        return serve.images_from_json(payload, max_images=max_images)

    torch.manual_seed(0)
    server = serve.make_server(deployment.build_served_cnn(), read_images=read_images)
    thread = serve.start_in_background(server)
    try:
        image = [[0] * 28] * 28
        assert predict(server, {"format": "mnist", "image": image})[0] == 200
        assert predict(server, {"image": image})[0] == 200
        assert predict(server, {"format": "drawing", "image": [[255]]})[0] == 200
    finally:
        serve.stop(server, thread)
    assert seen == [["image"], ["image"]]


def test_the_largest_drawing_request_is_answered_in_bounded_time(service):
    side = serve.MAX_DRAWING_SIDE
    drawing = np.random.default_rng(1).integers(0, 256, (side, side)).tolist()
    started = time.perf_counter()
    status, answer = predict(service, {"format": "drawing", "images": [drawing] * 3})   # about 3 MB of JSON
    assert status == 200 and len(answer["predictions"]) == 3
    assert time.perf_counter() - started < 10.0
    status, answer = predict(service, {"format": "drawing", "images": [drawing] * 4})  # more values than allowed
    assert status == 400 and "values" in answer["error"]


# --------------------------------------------------------------------------- the page

def get(server, path):
    try:
        with urllib.request.urlopen(serve.url(server, path), timeout=10) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as error:
        with error:
            return error.code, dict(error.headers), error.read()


@pytest.mark.parametrize("path, content_type", [("/", "text/html"), ("/draw.js", "text/javascript"),
                                                ("/draw.css", "text/css"), ("/favicon.svg", "image/svg+xml")])
def test_the_page_and_its_files_are_served_with_the_security_headers(service, path, content_type):
    status, headers, body = get(service, path)
    assert status == 200 and headers["Content-Type"].startswith(content_type) and len(body) == int(headers["Content-Length"])
    assert headers["Content-Security-Policy"] == serve.SECURITY_HEADERS["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_the_page_ignores_a_query_string(service):
    status, _, body = get(service, "/?from=notebook")
    assert status == 200 and b'id="pad"' in body


def test_every_json_answer_carries_the_security_policy_too(service):
    for path in ("/health", "/nowhere", "/?from=notebook"):
        _, headers, _ = get(service, path)
        assert "default-src 'none'" in headers["Content-Security-Policy"]


def test_the_policy_allows_only_the_services_own_origin():
    policy = dict(part.strip().split(" ", 1) for part in serve.SECURITY_HEADERS["Content-Security-Policy"].split(";"))
    assert policy["default-src"] == "'none'"
    for directive in ("script-src", "style-src", "img-src", "connect-src"):
        assert policy[directive] == "'self'", directive
    assert "unsafe" not in serve.SECURITY_HEADERS["Content-Security-Policy"]


def test_the_page_has_no_inline_code_and_names_no_other_site():
    html = (serve.WEB_FOLDER / "draw.html").read_text()
    assert "<script>" not in html and "style=" not in html and " on" + "click" not in html
    for name in ("draw.html", "draw.js", "draw.css"):
        text = (serve.WEB_FOLDER / name).read_text()
        assert "http://" not in text and "https://" not in text and "//cdn" not in text, name
    script = (serve.WEB_FOLDER / "draw.js").read_text()
    assert '"drawing"' in script and '"/predict"' in script


def test_the_page_files_ship_with_the_package():
    """Every file of course_utils/web matches a package-data pattern, so a non-editable install has the page."""
    import fnmatch
    import sys
    from pathlib import Path

    if sys.version_info >= (3, 11):
        import tomllib
    else:
        import tomli as tomllib
    pyproject = tomllib.loads((Path(serve.__file__).resolve().parents[1] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["course_utils"]
    files = sorted(path.name for path in serve.WEB_FOLDER.iterdir())
    assert {name for name, _ in serve.WEB_FILES.values()} <= set(files)
    for name in files:
        assert any(fnmatch.fnmatch(f"web/{name}", pattern) for pattern in patterns), name
