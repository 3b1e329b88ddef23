"""course_utils.deployment: saving and loading with a model card, latency, quantization, the served CNN."""

from __future__ import annotations

import json
import pickle

import pytest
import torch

from course_utils import data, deployment, models, train


@pytest.fixture(scope="module")
def splits():
    return data.load_mnist()


@pytest.fixture(scope="module")
def test_images(splits):
    return data.to_tensors(splits.test_images[:200], splits.test_labels[:200])[0]


def _small_cnn(seed=0):
    torch.manual_seed(seed)
    return deployment.build_served_cnn().eval()


# ------------------------------------------------------------------ saving and loading

def test_save_and_load_give_identical_predictions(tmp_path, test_images):
    model = _small_cnn()
    path = deployment.save_model(model, tmp_path / "model.pt", test_accuracy=0.5)
    assert path == tmp_path / "model.pt" and deployment.model_card_path(path).is_file()
    loaded = deployment.load_model(path)
    assert not loaded.training
    with torch.no_grad():
        assert torch.equal(model(test_images), loaded(test_images))
    with pytest.raises(FileNotFoundError, match="save_weights"):
        deployment.load_weights(deployment.build_served_cnn(), tmp_path / "missing.pt")


def test_save_weights_and_load_weights_round_trip(tmp_path, test_images):
    model = _small_cnn(seed=1)
    path = deployment.save_weights(model, tmp_path / "nested" / "weights.pt")
    fresh = _small_cnn(seed=2)
    with torch.no_grad():
        assert not torch.equal(model(test_images[:8]), fresh(test_images[:8]))
        loaded = deployment.load_weights(fresh.train(), path)
        assert loaded is fresh and not loaded.training
        assert torch.equal(model(test_images[:8]), loaded(test_images[:8]))
    assert deployment.state_dict_bytes(model) > 4 * train.count_parameters(model)


class _RunsCodeWhenLoaded:
    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_weights_only_refuses_a_pickle_that_runs_code(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"weight": _RunsCodeWhenLoaded()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)
    with pytest.raises(pickle.UnpicklingError):
        deployment.load_weights(deployment.build_served_cnn(), path)


# ------------------------------------------------------------------ the model card

def test_model_card_round_trip(tmp_path, test_images):
    settings = {"channels": [4, 8], "convs_per_block": 1, "hidden_units": [16], "batch_norm": False, "dropout": 0.0}
    torch.manual_seed(0)
    model = deployment.build_served_cnn(settings).eval()
    path = deployment.save_model(model, tmp_path / "cnn.pt", settings=settings, test_accuracy=0.97, data="MNIST 10k")
    assert deployment.model_card_path(path) == tmp_path / "cnn.pt.json"
    card = json.loads(deployment.model_card_path(path).read_text())
    assert card["architecture"] == "course_utils.models.CNN"
    assert card["settings"] == settings and card["test_accuracy"] == 0.97 and card["data"] == "MNIST 10k"
    assert str(data.PIXEL_MEAN) in card["input"] and str(data.PIXEL_STD) in card["input"]
    loaded = deployment.load_model(path)
    assert isinstance(loaded, models.CNN)
    assert train.count_parameters(loaded) == train.count_parameters(model)
    with torch.no_grad():
        assert torch.equal(model(test_images), loaded(test_images))


def test_default_card_describes_the_served_cnn(tmp_path):
    path = deployment.save_model(_small_cnn(), tmp_path / "served.pt")
    card = json.loads(deployment.model_card_path(path).read_text())
    assert card["settings"] == deployment.SERVED_CNN_SETTINGS
    deployment.model_card_path(path).unlink()                  # without a card, the served settings are assumed
    assert isinstance(deployment.load_model(path), models.CNN)


def test_a_card_naming_another_architecture_is_refused(tmp_path):
    path = deployment.save_model(_small_cnn(), tmp_path / "model.pt")
    card_path = deployment.model_card_path(path)
    card = json.loads(card_path.read_text())
    card["architecture"] = "somewhere.else.Evil"
    card_path.write_text(json.dumps(card))
    with pytest.raises(ValueError, match="somewhere.else.Evil"):
        deployment.load_model(path)


@pytest.mark.parametrize("card_text, message", [("not json {", "is not valid JSON"), ("[1, 2]", "must be a JSON object"),
                                                  ("\udcff", "is not valid JSON"),
                                                  ('{"architecture": "course_utils.models.CNN", "settings": [16]}',
                                                   "settings that are not a JSON object")])
def test_a_broken_model_card_is_named_with_what_is_wrong(tmp_path, card_text, message):
    path = deployment.save_model(_small_cnn(), tmp_path / "model.pt")
    card_path = deployment.model_card_path(path)
    card_path.write_bytes(card_text.encode("utf-8", errors="surrogateescape"))
    with pytest.raises(ValueError, match=message) as caught:
        deployment.load_model(path)
    assert str(card_path) in str(caught.value)


# ------------------------------------------------------------------ latency and quantization

def test_measure_latency_and_table():
    model = _small_cnn()
    timing = deployment.measure_latency(model, 4, repeats=3, warmup=1)
    assert timing.device == "cpu" and timing.batch_size == 4
    assert timing.milliseconds_per_batch > 0
    assert timing.images_per_second == pytest.approx(4 / (timing.milliseconds_per_batch / 1000))
    assert timing.milliseconds_per_image == pytest.approx(timing.milliseconds_per_batch / 4)
    timings = deployment.latency_table(model, batch_sizes=(1, 2), devices=["cpu"], repeats=2, warmup=0)
    assert [t.batch_size for t in timings] == [1, 2] and [t.device for t in timings] == ["cpu", "cpu"]
    table = deployment.format_timings(timings)
    assert "images per s" in table and len(table.splitlines()) == 3
    with pytest.raises(ValueError, match="batch_size"):
        deployment.measure_latency(model, 0)
    with pytest.raises(ValueError, match="repeats"):
        deployment.measure_latency(model, 1, repeats=0)


def test_quantization_shrinks_linear_layers_and_keeps_predictions(test_images):
    torch.manual_seed(0)
    model = models.CNN(channels=(8, 16), convs_per_block=1, hidden_units=(256,)).eval()
    quantized = deployment.quantize_linear_layers(model)
    assert deployment.state_dict_bytes(quantized) < 0.5 * deployment.state_dict_bytes(model)
    with torch.no_grad():
        agreement = (model(test_images).argmax(1) == quantized(test_images).argmax(1)).float().mean().item()
    assert agreement >= 0.95
    linear_layers = [layer for layer in model.classifier if isinstance(layer, torch.nn.Linear)]
    assert len(linear_layers) == 2 and all(type(layer) is torch.nn.Linear for layer in linear_layers)  # original untouched


# ------------------------------------------------------------------ the served CNN

def test_served_cnn_trains_with_its_recipe(splits):
    train_data = data.to_tensors(splits.train_images[:600], splits.train_labels[:600])
    val_data = data.to_tensors(splits.test_images[:200], splits.test_labels[:200])
    model, history = models.trained(deployment.build_served_cnn, train_data, deployment.SERVED_RECIPE, val_data=val_data)
    assert isinstance(model, models.CNN) and not model.training
    assert len(history.train_loss) == deployment.SERVED_RECIPE.num_epochs == 2
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.5
    assert train.count_parameters(model) == train.count_parameters(deployment.build_served_cnn())
