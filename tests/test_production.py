"""Tests for course_utils.production and the checks of notebook 06."""

from __future__ import annotations

import pickle

import numpy as np
import pytest
import torch

from course_utils import checks, data, production, serve


@pytest.fixture(scope="module")
def small_data():
    splits = data.load_mnist()
    train_data = data.to_tensors(splits.train_images[:300], splits.train_labels[:300])
    test_data = data.to_tensors(splits.test_images[:200], splits.test_labels[:200])
    return train_data, test_data


@pytest.fixture(scope="module")
def val_data():
    splits = data.load_mnist()
    return data.to_tensors(splits.train_images[300:400], splits.train_labels[300:400])


@pytest.mark.parametrize("settings", list(production.ABLATION_ROWS.values()))
def test_every_ablation_row_builds_and_gives_logits(settings):
    model = production.AblationCNN(**settings)
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)


def test_ablation_changes_only_what_it_says():
    plain = production.AblationCNN()
    assert production.train.count_parameters(production.AblationCNN(activation="tanh")) == production.train.count_parameters(plain)
    assert production.train.count_parameters(production.AblationCNN(dropout=0.5)) == production.train.count_parameters(plain)
    # the skip connection itself has no weights
    assert (production.train.count_parameters(production.AblationCNN(extra_layer=True, residual=True))
            == production.train.count_parameters(production.AblationCNN(extra_layer=True)))


@pytest.mark.parametrize("bad", [{"norm": "group"}, {"activation": "swish"}, {"dropout": 1.0}, {"residual": True}])
def test_ablation_rejects_bad_settings(bad):
    with pytest.raises(ValueError):
        production.AblationCNN(**bad)


def test_run_ablation_measures_every_row_over_every_seed(small_data, val_data):
    train_data, test_data = small_data
    rows = {"plain": {}, "bn": {"norm": "batch"}}
    results = production.run_ablation(rows, train_data, val_data, test_data, seeds=(0, 1), num_epochs=1, verbose=False)
    assert [result.name for result in results] == ["plain", "bn"]
    for result in results:
        assert len(result.val_accuracies) == len(result.test_accuracies) == 2
        assert 0.0 <= result.test_mean <= 1.0 and result.parameters > 0 and result.train_seconds > 0
        assert result.val_std == pytest.approx(np.std(result.val_accuracies, ddof=1))
    assert results[0].val_accuracies[0] != results[0].val_accuracies[1], "different seeds, different runs"
    table = production.format_ablation_table(results)
    assert "plain" in table and "parameters" in table and "±" in table
    with pytest.raises(ValueError, match="rows is empty"):
        production.run_ablation({}, train_data, val_data, test_data)
    with pytest.raises(ValueError, match="seeds is empty"):
        production.run_ablation(rows, train_data, val_data, test_data, seeds=())


def test_same_seed_same_row(small_data):
    train_data, _ = small_data
    first, _ = production.train_ablation_row({}, train_data, num_epochs=1)
    second, _ = production.train_ablation_row({}, train_data, num_epochs=1)
    for a, b in zip(first.parameters(), second.parameters()):
        assert torch.equal(a, b)


def test_least_confident_and_bad_input():
    probabilities = np.array([[0.9, 0.1], [0.5, 0.5], [0.6, 0.4]])
    assert production.least_confident(probabilities, 2).tolist() == [1, 2]
    assert production.least_confident(torch.tensor(probabilities), 1).tolist() == [1]
    with pytest.raises(ValueError):
        production.least_confident(probabilities[0], 1)
    with pytest.raises(ValueError):
        production.least_confident(probabilities, 4)


def test_strongest_inputs_finds_the_brightest_image():
    model = torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 2))
    with torch.no_grad():
        model[1].weight.fill_(1.0)
        model[1].bias.zero_()
    images = torch.stack([torch.full((1, 28, 28), float(value)) for value in (0.1, 0.9, 0.5)])
    indices, activations = production.strongest_inputs(model, model[1], 0, images, count=2)
    assert indices.tolist() == [1, 2]
    assert activations[0] > activations[1]
    with pytest.raises(ValueError):
        production.strongest_inputs(model, model[1], 5, images)


def test_save_and_load_give_identical_predictions(tmp_path, small_data):
    _, (test_images, _) = small_data
    torch.manual_seed(0)
    model = production.build_cnn().eval()
    path = production.save_model(model, tmp_path / "model.pt", test_accuracy=0.5)
    assert production.model_card_path(path).is_file()
    loaded = production.load_model(path)
    with torch.no_grad():
        assert torch.equal(model(test_images), loaded(test_images))
    with pytest.raises(FileNotFoundError):
        production.load_weights(production.build_cnn(), tmp_path / "missing.pt")


class _RunsCodeWhenLoaded:
    def __reduce__(self):
        return (print, ("this ran while loading",))


def test_weights_only_refuses_a_pickle_that_runs_code(tmp_path):
    path = tmp_path / "evil.pt"
    path.write_bytes(pickle.dumps({"weight": _RunsCodeWhenLoaded()}, protocol=2))
    with pytest.raises(pickle.UnpicklingError):
        torch.load(path, weights_only=True)


def test_measure_latency_and_table():
    model = production.AblationCNN()
    timing = production.measure_latency(model, 4, repeats=3, warmup=1)
    assert timing.device == "cpu" and timing.batch_size == 4
    assert timing.milliseconds_per_batch > 0
    assert timing.images_per_second == pytest.approx(4 / (timing.milliseconds_per_batch / 1000))
    timings = production.latency_table(model, batch_sizes=(1, 2), devices=["cpu"], repeats=2, warmup=0)
    assert [t.batch_size for t in timings] == [1, 2]
    assert "images per s" in production.format_timings(timings)
    with pytest.raises(ValueError):
        production.measure_latency(model, 0)


def test_quantization_shrinks_linear_layers_and_keeps_predictions(small_data):
    _, (test_images, _) = small_data
    torch.manual_seed(0)
    model = production.AblationCNN(channels=(8, 16), hidden=256).eval()
    quantized = production.quantize_linear_layers(model)
    assert production.state_dict_bytes(quantized) < 0.5 * production.state_dict_bytes(model)
    with torch.no_grad():
        agreement = (model(test_images).argmax(1) == quantized(test_images).argmax(1)).float().mean().item()
    assert agreement >= 0.95
    assert isinstance(model.classifier[2], torch.nn.Linear)  # the original is untouched


# ---------------------------------------------------------------- checks

def test_check_least_confident_accepts_reference_and_rejects_wrong(capsys):
    assert checks.check_least_confident(production.least_confident)
    assert not checks.check_least_confident(lambda p, k: np.argsort(p.max(axis=1))[::-1][:k])  # most confident
    assert not checks.check_least_confident(lambda p, k: np.argsort(p.min(axis=1))[:k])        # wrong confidence
    def stub(p, k):
        raise NotImplementedError
    assert not checks.check_least_confident(stub)
    assert "⏳" in capsys.readouterr().out


def _reference_request_to_tensor(payload):
    return serve.normalize_pixels(serve.images_from_json(payload))


def test_check_request_to_tensor_accepts_reference_and_rejects_wrong(capsys):
    assert checks.check_request_to_tensor(_reference_request_to_tensor)

    def no_range_check(payload):
        images = np.asarray(payload["images"], dtype=np.float32)
        if images.ndim != 3 or images.shape[1:] != (28, 28):
            raise ValueError("shape")
        return torch.from_numpy((images / 255 - data.PIXEL_MEAN) / data.PIXEL_STD)[:, None]

    def not_normalized(payload):
        return _reference_request_to_tensor(payload) * data.PIXEL_STD + data.PIXEL_MEAN

    def missing_channel(payload):
        return _reference_request_to_tensor(payload)[:, 0]

    for wrong in (no_range_check, not_normalized, missing_channel):
        assert not checks.check_request_to_tensor(wrong)
    assert not checks.check_request_to_tensor("not a function")
    out = capsys.readouterr().out
    assert "256 must be rejected" in out and "shape" in out


def test_train_served_cnn_trains_with_the_notebook_recipe():
    splits = data.load_mnist()
    train_data = data.to_tensors(splits.train_images[:600], splits.train_labels[:600])
    val_data = data.to_tensors(splits.test_images[:200], splits.test_labels[:200])
    model, history = production.train_served_cnn(train_data, val_data=val_data, num_epochs=2)
    assert len(history.train_loss) == 2 and history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.5
