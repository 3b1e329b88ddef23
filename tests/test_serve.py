"""The digit service of notebook 06, exercised over real HTTP on a free 127.0.0.1 port."""

from __future__ import annotations

import dataclasses
import http.client
import json
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
import torch

from course_utils import data, deployment, models, serve, train

MAX_BODY_BYTES = 200_000   # small, so that a 413 is cheap to provoke
MAX_IMAGES = 64


@pytest.fixture(scope="module")
def splits():
    return data.load_mnist()


@pytest.fixture(scope="module")
def trained_model_path(splits, tmp_path_factory):
    """The served CNN, briefly trained (one epoch on 2,000 digits), saved with its model card."""
    train_data = data.to_tensors(splits.train_images[:2000], splits.train_labels[:2000])
    model, _ = models.trained(deployment.build_served_cnn, train_data,
                              dataclasses.replace(deployment.SERVED_RECIPE, num_epochs=1))
    return deployment.save_model(model, tmp_path_factory.mktemp("model") / "cnn.pt")


@pytest.fixture(scope="module")
def service(trained_model_path):
    server = serve.make_server(trained_model_path, max_body_bytes=MAX_BODY_BYTES, max_images=MAX_IMAGES)
    assert server.server_address[0] == "127.0.0.1"
    thread = serve.start_in_background(server)
    yield server
    serve.stop(server, thread)
    assert not thread.is_alive()


def _still_serving(server, image) -> None:
    status, answer = serve.call(serve.url(server, "/health"))
    assert status == 200 and answer["status"] == "ok"
    status, answer = serve.call(serve.url(server, "/predict"), {"image": image.tolist()})
    assert status == 200 and len(answer["predictions"]) == 1


def test_binds_loopback_by_default(trained_model_path):
    server = serve.make_server(trained_model_path)
    try:
        assert server.server_address[0] == "127.0.0.1" and server.server_address[1] > 0
    finally:
        server.server_close()


def test_predictions_for_bundled_test_digits(service, splits, trained_model_path):
    images, labels = splits.test_images[:200], splits.test_labels[:200]
    status, answer = serve.call(serve.url(service, "/predict"), serve.images_payload(images[:MAX_IMAGES]))
    assert status == 200
    served = np.array(answer["predictions"])
    probabilities = np.array(answer["probabilities"])
    assert probabilities.shape == (MAX_IMAGES, 10)
    np.testing.assert_allclose(probabilities.sum(axis=1), 1.0, atol=1e-4)
    assert (probabilities.argmax(axis=1) == served).all()
    # the same answers as the model itself, on the same normalized tensors
    model = deployment.load_model(trained_model_path)
    test_x, _ = data.to_tensors(images[:MAX_IMAGES], labels[:MAX_IMAGES])
    direct = train.predict(model, test_x).argmax(dim=1).numpy()
    assert (served == direct).all()
    assert (served == labels[:MAX_IMAGES]).mean() >= 0.85
    # one image, sent alone under "image"
    status, answer = serve.call(serve.url(service, "/predict"), {"image": images[0].tolist()})
    assert status == 200 and answer["predictions"] == [int(direct[0])]
    # pixels as decimals 0..255 give the same answer as integers
    status, answer = serve.call(serve.url(service, "/predict"), {"images": (images[:5].astype(float) + 0.0).tolist()})
    assert answer["predictions"] == served[:5].tolist()


def _good_image(splits):
    return splits.test_images[0]


BAD_JSON_BODIES = [b"{not json", b"", b'{"image": NaN}', b"\xff\xfe", b"[1, 2"]


@pytest.mark.parametrize("body", BAD_JSON_BODIES)
def test_malformed_json_is_400_and_service_survives(service, splits, body):
    status, answer = serve.call(serve.url(service, "/predict"), body=body)
    assert status == 400 and "error" in answer
    _still_serving(service, _good_image(splits))


def _wrong_payloads():
    image = np.zeros((28, 28), dtype=int)
    too_bright = image.copy()
    too_bright[3, 3] = 256
    return {
        "list not object": [image.tolist()],
        "no images key": {"pixels": image.tolist()},
        "both keys": {"image": image.tolist(), "images": [image.tolist()]},
        "empty list": {"images": []},
        "27 rows": {"image": image[:27].tolist()},
        "ragged row": {"image": image.tolist()[:27] + [[0] * 27]},
        "flat 784": {"image": image.ravel().tolist()},
        "extra axis": {"images": [[image.tolist()]]},
        "strings": {"image": [["0"] * 28] * 28},
        "booleans": {"image": [[True] * 28] * 28},
        "null pixel": {"image": [[None] * 28] * 28},
        "above 255": {"image": too_bright.tolist()},
        "negative": {"image": (image - 1).tolist()},
        "too many images": {"images": [image.tolist()] * (MAX_IMAGES + 1)},
    }


@pytest.mark.parametrize("name", list(_wrong_payloads()))
def test_wrong_shape_type_or_range_is_422_and_service_survives(service, splits, name):
    status, answer = serve.call(serve.url(service, "/predict"), _wrong_payloads()[name])
    assert status == 422, answer
    assert isinstance(answer["error"], str) and answer["error"]
    _still_serving(service, _good_image(splits))


def test_oversized_body_is_413_and_service_survives(service, splits):
    status, answer = serve.call(serve.url(service, "/predict"), body=b" " * (MAX_BODY_BYTES + 1))
    assert status == 413 and "limit" in answer["error"]
    # a client that only announces a huge body (and never sends it) is answered at once
    host, port = service.server_address[:2]
    connection = http.client.HTTPConnection(host, port, timeout=10)
    connection.putrequest("POST", "/predict")
    connection.putheader("Content-Length", str(10**12))
    connection.endheaders()
    response = connection.getresponse()
    assert response.status == 413 and "error" in json.loads(response.read())
    connection.close()
    _still_serving(service, _good_image(splits))


@pytest.mark.parametrize("method, path", [("GET", "/index.php"), ("GET", "/predictions"), ("POST", "/"), ("POST", "/health"), ("POST", "/predict/extra")])
def test_unknown_path_is_404_and_service_survives(service, splits, method, path):
    payload = {"image": _good_image(splits).tolist()} if method == "POST" else None
    status, answer = serve.call(serve.url(service, path), payload)
    assert status == 404 and "error" in answer
    _still_serving(service, _good_image(splits))


def test_other_protocol_errors(service, splits):
    assert serve.call(serve.url(service, "/predict"))[0] == 405          # GET on a POST endpoint
    host, port = service.server_address[:2]
    for headers, expected in (({}, 411), ({"Content-Length": "many"}, 400), ({"Content-Length": "-5"}, 400)):
        connection = http.client.HTTPConnection(host, port, timeout=10)
        connection.putrequest("POST", "/predict", skip_accept_encoding=True)
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == expected and "error" in json.loads(response.read())
        connection.close()
    _still_serving(service, _good_image(splits))


def test_200_concurrent_requests_from_8_threads(service, splits):
    images = splits.test_images[:200]
    address = serve.url(service, "/predict")

    def one_request(index):
        return serve.call(address, {"image": images[index].tolist()}, timeout=60)

    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(one_request, range(200)))
    assert [status for status, _ in answers] == [200] * 200
    served = np.array([answer["predictions"][0] for _, answer in answers])
    status, together = serve.call(address, serve.images_payload(images[:MAX_IMAGES]))
    assert (served[:MAX_IMAGES] == np.array(together["predictions"])).all()
    _still_serving(service, _good_image(splits))


def test_images_from_json_and_payload_helpers():
    image = np.full((28, 28), 255, dtype=np.uint8)
    pixels = serve.images_from_json(serve.images_payload(image))
    assert pixels.shape == (1, 28, 28) and pixels.dtype == np.float32 and pixels.max() == 255
    tensor = serve.normalize_pixels(pixels)
    assert tensor.shape == (1, 1, 28, 28)
    assert torch.allclose(tensor, data.to_tensors(image[None], np.zeros(1, dtype=np.uint8))[0])
    with pytest.raises(ValueError):
        serve.images_payload(np.zeros((28, 27)))
    with pytest.raises(serve.BadInput):
        serve.images_from_json({"image": [[0.5] * 28] * 28}, max_images=0)


def test_make_server_rejects_bad_limits(trained_model_path):
    with pytest.raises(ValueError):
        serve.make_server(trained_model_path, max_images=0)


def _free_loopback_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def test_command_line_service_answers_and_stops(trained_model_path, splits):
    import subprocess
    import sys
    import time

    port = _free_loopback_port()
    process = subprocess.Popen([sys.executable, "-m", "course_utils.serve", "--model", str(trained_model_path),
                                "--port", str(port)], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        address = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:
            try:
                status, answer = serve.call(address + "/health", timeout=5)
                break
            except OSError:
                assert process.poll() is None, process.stdout.read()
                assert time.monotonic() < deadline, "the service did not start within 60 s"
                time.sleep(0.2)
        assert status == 200 and answer["status"] == "ok"
        status, answer = serve.call(address + "/predict", {"image": splits.test_images[0].tolist()})
        assert status == 200 and len(answer["probabilities"][0]) == 10
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_deploy_prepare_model_packages_a_provided_model(trained_model_path, tmp_path):
    import importlib.util
    from pathlib import Path

    script = Path(__file__).resolve().parents[1] / "deploy" / "prepare_model.py"
    spec = importlib.util.spec_from_file_location("prepare_model", script)
    prepare_model = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(prepare_model)
    prepare_model.PROVIDED = Path(trained_model_path)
    target = tmp_path / "image" / "mnist_cnn.pt"
    prepare_model.main(target)
    assert target.is_file() and deployment.model_card_path(target).is_file()
    assert deployment.load_model(target) is not None


def test_dockerfile_serves_the_prepared_model():
    from pathlib import Path

    text = (Path(__file__).resolve().parents[1] / "deploy" / "Dockerfile").read_text()
    assert "download.pytorch.org/whl/cpu" in text
    assert "deploy/prepare_model.py /app/model/mnist_cnn.pt" in text
    assert '"--model", "/app/model/mnist_cnn.pt"' in text
    assert "USER service" in text


def test_a_validator_of_the_notebooks_own_guards_the_service(trained_model_path):
    """make_server(read_images=...) puts a notebook's request validator in front of the model."""
    def only_one_image(payload, *, max_images):
        if set(payload) != {"image"}:
            raise serve.BadInput("send exactly one image under the key 'image'")
        return serve.images_from_json(payload, max_images=1)

    def broken(payload, *, max_images):
        raise TypeError("a bug in the validator")

    for read_images, expected in ((only_one_image, 422), (broken, 500)):
        server = serve.make_server(trained_model_path, read_images=read_images)
        thread = serve.start_in_background(server)
        try:
            status, answer = serve.call(serve.url(server, "/predict"), {"images": [[[0] * 28] * 28]})
            assert status == expected and "error" in answer
            if read_images is only_one_image:
                status, answer = serve.call(serve.url(server, "/predict"), {"image": [[0] * 28] * 28})
                assert status == 200 and len(answer["predictions"]) == 1
        finally:
            serve.stop(server, thread)
