"""course_utils.models: the models later notebooks reuse, their recipes, and ``trained``."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from course_utils import data, models, train


@pytest.fixture(scope="module")
def splits():
    return data.load_mnist()


@pytest.fixture(scope="module")
def tiny_data(splits):
    """300 training digits as CPU tensors (N, 1, 28, 28)."""
    return data.to_tensors(splits.train_images[:300], splits.train_labels[:300])


@pytest.fixture(scope="module")
def held_out(splits):
    """200 test digits, never trained on."""
    return data.to_tensors(splits.test_images[:200], splits.test_labels[:200])


# ------------------------------------------------------------------ MLP

def test_mlp_accepts_grid_and_flat_images():
    torch.manual_seed(0)
    model = models.MLP().eval()
    grid = torch.randn(3, 1, 28, 28)
    assert model(grid).shape == (3, 10)
    torch.testing.assert_close(model(grid), model(grid.reshape(3, 784)))


def test_mlp_rejects_wrong_sizes():
    model = models.MLP((16,))
    with pytest.raises(ValueError, match="expected images"):
        model(torch.randn(3, 100))
    with pytest.raises(ValueError, match="expected images"):
        model(torch.randn(3, 1, 27, 28))
    with pytest.raises(ValueError, match="dropout"):
        models.MLP(dropout=1.5)


def test_mlp_layers_and_parameter_count():
    assert train.count_parameters(models.MLP((256,), dropout=0.0)) == 784 * 256 + 256 + 256 * 10 + 10
    assert train.count_parameters(models.MLP()) == 784 * 1024 + 1024 + 1024 * 10 + 10
    without_dropout = models.MLP((8, 8), dropout=0.0)
    assert not any(isinstance(layer, torch.nn.Dropout) for layer in without_dropout.layers)


# ------------------------------------------------------------------ CNN

def test_cnn_output_shape_and_parameter_count():
    model = models.CNN().eval()
    assert model(torch.zeros(5, 1, 28, 28)).shape == (5, 10)
    convolutions = (9 * 1 * 16) + (9 * 16 * 32) + (9 * 32 * 64)            # one 3×3 convolution per block, no bias
    batch_norms = 2 * (16 + 32 + 64)
    head = (64 * 3 * 3 * 128 + 128) + (128 * 10 + 10)
    assert train.count_parameters(models.CNN()) == convolutions + batch_norms + head == 98_554
    assert len(model.features) == 3   # one nn.Sequential per block, kept apart from the classifier


def test_cnn_rejects_flat_images():
    model = models.CNN()
    with pytest.raises(ValueError, match="flatten=True"):
        model(torch.zeros(2, 784))
    with pytest.raises(ValueError, match=r"\(N, 1, 28, 28\)"):
        model(torch.zeros(2, 3, 28, 28))
    with pytest.raises(ValueError, match="at least one block"):
        models.CNN(channels=())


def test_cnn_without_batch_norm_has_conv_biases():
    plain = models.CNN(channels=(4,), convs_per_block=1, hidden_units=(), batch_norm=False, dropout=0.0)
    assert train.count_parameters(plain) == (9 * 4 + 4) + (4 * 14 * 14 * 10 + 10)
    assert plain(torch.zeros(1, 1, 28, 28)).shape == (1, 10)


# ------------------------------------------------------------------ rows and the row classifier

def test_images_to_rows_shapes_and_error():
    assert models.images_to_rows(torch.zeros(4, 1, 28, 28)).shape == (4, 28, 28)
    assert models.images_to_rows(torch.zeros(4, 28, 28)).shape == (4, 28, 28)
    images = torch.arange(2 * 28 * 28, dtype=torch.float32).reshape(2, 1, 28, 28)
    assert torch.equal(models.images_to_rows(images)[1, 5], images[1, 0, 5])   # step 5 is row 5
    for bad in (torch.zeros(4, 784), torch.zeros(4, 3, 28, 28), torch.zeros(4, 28, 27)):
        with pytest.raises(ValueError, match="expected images"):
            models.images_to_rows(bad)


def test_row_classifier_forward_equals_last_step():
    torch.manual_seed(0)
    images = torch.randn(6, 1, 28, 28)
    for model in (models.RowClassifier(), models.RowClassifier("rnn", 8)):
        with torch.no_grad():
            all_steps = model.forward_all_steps(images)
            assert all_steps.shape == (6, 28, 10)
            torch.testing.assert_close(model(images), all_steps[:, -1])


def test_row_classifier_cells_and_parameter_counts():
    assert models.RowClassifier().cell == "lstm"
    assert train.count_parameters(models.RowClassifier()) == 4 * (28 * 128 + 128 * 128 + 2 * 128) + 128 * 10 + 10
    assert train.count_parameters(models.RowClassifier("rnn", 64)) == 28 * 64 + 64 * 64 + 2 * 64 + 64 * 10 + 10
    with pytest.raises(ValueError, match="'rnn' or 'lstm'"):
        models.RowClassifier(cell="gru")


# ------------------------------------------------------------------ recipes and trained

def test_recipes_are_the_notebooks_final_settings():
    assert models.MLP_RECIPE.optimizer == "adam" and models.CNN_RECIPE.optimizer == "adamw"
    assert models.LSTM_RECIPE.max_grad_norm == 1.0
    for recipe in (models.MLP_RECIPE, models.CNN_RECIPE, models.LSTM_RECIPE):
        assert recipe.optimizer in train.OPTIMIZERS and recipe.one_cycle and recipe.num_epochs >= 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        models.MLP_RECIPE.num_epochs = 1


def test_trained_learns_a_small_subset_and_is_deterministic(tiny_data, held_out):
    recipe = dataclasses.replace(models.MLP_RECIPE, num_epochs=2, batch_size=32)  # 20 updates on 300 digits
    model, history = models.trained(models.MLP, tiny_data, recipe, val_data=held_out)
    assert isinstance(model, models.MLP) and not model.training
    assert next(model.parameters()).device == tiny_data[0].device
    assert len(history.train_loss) == len(history.val_accuracy) == 2
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.val_accuracy[-1] > 0.6   # chance is 0.1
    again, again_history = models.trained(models.MLP, tiny_data, recipe, val_data=held_out)
    assert again_history.train_loss == history.train_loss and again_history.val_accuracy == history.val_accuracy
    for left, right in zip(model.parameters(), again.parameters()):
        assert torch.equal(left, right)
    other, _ = models.trained(models.MLP, tiny_data, recipe, seed=1)
    assert not torch.equal(next(model.parameters()), next(other.parameters()))


def test_trained_builds_from_a_factory(tiny_data):
    recipe = dataclasses.replace(models.LSTM_RECIPE, num_epochs=1, batch_size=100)
    model, history = models.trained(lambda: models.RowClassifier("rnn", 8), tiny_data, recipe)
    assert isinstance(model, models.RowClassifier) and model.cell == "rnn"
    assert len(history.train_loss) == 1 and not model.training
