"""Unit tests for course_utils.rnn and the checks of notebook 05."""

import json

import numpy as np
import pytest
import torch
from torch import nn

from course_utils import checks, data, rnn, train
from course_utils.checks import rnn as rnn_checks


# --- numpy recurrence ------------------------------------------------------------------------------

def small_weights(input_size=2, hidden_size=3, output_size=2, seed=0):
    rng = np.random.default_rng(seed)
    return (rng.normal(size=(hidden_size, hidden_size)), rng.normal(size=(input_size, hidden_size)),
            rng.normal(size=(hidden_size, output_size)))


def test_rnn_step_matches_formula_and_is_batched():
    W1, W2, W3 = small_weights()
    h, x = np.array([0.1, -0.2, 0.3]), np.array([1.0, 2.0])
    h_new, y = rnn.rnn_step(h, x, W1, W2, W3)
    np.testing.assert_allclose(h_new, np.tanh(h @ W1 + x @ W2))
    np.testing.assert_allclose(y, h_new @ W3)
    batch_h, batch_y = rnn.rnn_step(np.stack([h, h]), np.stack([x, x]), W1, W2, W3)
    assert batch_h.shape == (2, 3) and batch_y.shape == (2, 2)
    np.testing.assert_allclose(batch_h[1], h_new)


def test_rnn_step_rejects_bad_shapes():
    W1, W2, W3 = small_weights()
    with pytest.raises(ValueError, match="square"):
        rnn.rnn_step(np.zeros(3), np.zeros(2), W2, W2, W3)
    with pytest.raises(ValueError, match="do not fit"):
        rnn.rnn_step(np.zeros(3), np.zeros(5), W1, W2, W3)


def test_ff_step_has_no_memory():
    W1, W2, W3 = small_weights(input_size=2, hidden_size=3)
    x = np.array([0.5, -1.0])
    np.testing.assert_allclose(rnn.ff_step(x, W2, W3), rnn.ff_step(x, W2, W3))


def test_numpy_rnn_keeps_and_resets_state():
    model = rnn.NumpyRNN(input_size=2, hidden_size=4, output_size=1, seed=0)
    x = np.array([1.0, 0.0])
    first, second = model.step(x), model.step(x)
    assert not np.allclose(first, second)              # same input, different output: memory
    model.reset()
    np.testing.assert_allclose(model.step(x), first)   # forgetting restores the first answer


def test_rnn_forward_equals_repeated_steps():
    W1, W2, W3 = small_weights()
    inputs = np.random.default_rng(1).normal(size=(5, 2))
    hidden_states, outputs = rnn.rnn_forward(inputs, np.zeros(3), W1, W2, W3)
    assert hidden_states.shape == (5, 3) and outputs.shape == (5, 2)
    h = np.zeros(3)
    for t in range(5):
        h, y = rnn.rnn_step(h, inputs[t], W1, W2, W3)
        np.testing.assert_allclose(hidden_states[t], h)
        np.testing.assert_allclose(outputs[t], y)
    with pytest.raises(ValueError, match=r"\(T, D\)"):
        rnn.rnn_forward(np.zeros(2), np.zeros(3), W1, W2, W3)


# --- LSTM ------------------------------------------------------------------------------------------

def test_lstm_by_hand_matches_torch():
    torch.manual_seed(0)
    lstm = nn.LSTM(5, 7, batch_first=True).double()
    sequence = torch.randn(3, 6, 5, dtype=torch.float64)
    with torch.no_grad():
        expected, (expected_h, expected_c) = lstm(sequence)
        got, (got_h, got_c) = rnn.lstm_by_hand(sequence, lstm)
    assert (got - expected).abs().max() < 1e-12
    assert (got_h - expected_h).abs().max() < 1e-12 and (got_c - expected_c).abs().max() < 1e-12


def test_lstm_cell_step_rejects_wrong_weight_shapes():
    x, h, c = torch.zeros(2, 3), torch.zeros(2, 4), torch.zeros(2, 4)
    with pytest.raises(ValueError, match="4H"):
        rnn.lstm_cell_step(x, h, c, torch.zeros(12, 3), torch.zeros(16, 4), torch.zeros(16))


def test_lstm_by_hand_rejects_unsupported_layers():
    with pytest.raises(ValueError, match="one-layer"):
        rnn.lstm_by_hand(torch.zeros(1, 2, 3), nn.LSTM(3, 4, num_layers=2, batch_first=True))
    with pytest.raises(ValueError, match="batch_first"):
        rnn.lstm_by_hand(torch.zeros(1, 2, 3), nn.LSTM(3, 4))


# --- clipping and augmentation ---------------------------------------------------------------------

def test_clipped_adam_caps_the_gradient_norm():
    parameter = nn.Parameter(torch.zeros(3))
    optimizer = rnn.ClippedAdam([parameter], lr=0.1, max_norm=1.0)
    parameter.grad = torch.tensor([300.0, 400.0, 0.0])
    optimizer.step()
    assert parameter.grad.norm().item() == pytest.approx(1.0)
    np.testing.assert_allclose(parameter.grad.numpy(), [0.6, 0.8, 0.0], rtol=1e-6)
    with pytest.raises(ValueError, match="max_norm"):
        rnn.ClippedAdam([parameter], max_norm=0)


def test_lstm_classifier_interface_and_parameter_count():
    model = rnn.LSTMClassifier()
    assert model(torch.zeros(3, 1, 28, 28)).shape == (3, 10)
    assert model.forward_all_steps(torch.zeros(3, 1, 28, 28)).shape == (3, 28, 10)
    assert train.count_parameters(model) == 4 * (28 * 128 + 128 * 128 + 2 * 128) + 128 * 10 + 10
    vanilla = rnn.RowClassifier("rnn")
    assert train.count_parameters(vanilla) == 28 * 128 + 128 * 128 + 2 * 128 + 128 * 10 + 10
    with pytest.raises(ValueError, match="'rnn' or 'lstm'"):
        rnn.RowClassifier("gru")


def test_forward_equals_last_step_and_accuracy_by_rows():
    torch.manual_seed(0)
    model = rnn.RowClassifier("rnn", hidden_size=8)
    images, labels = torch.randn(6, 1, 28, 28), torch.arange(6) % 10
    with torch.no_grad():
        torch.testing.assert_close(model(images), model.forward_all_steps(images)[:, -1])
        by_rows = rnn.accuracy_by_rows_read(model, images, labels, batch_size=4)
        final = (model(images).argmax(1) == labels).float().mean().item()
    assert by_rows.shape == (28,) and np.all((0 <= by_rows) & (by_rows <= 1))
    assert by_rows[-1] == pytest.approx(final)


def test_train_lstm_learns_a_tiny_subset():
    """Overfit 100 digits: the recipe must drive the training accuracy up (a sanity check, not the target)."""
    splits = data.load_mnist()
    images, labels = data.to_tensors(splits.train_images[:100], splits.train_labels[:100])
    torch.manual_seed(0)
    model = rnn.RowClassifier("lstm", hidden_size=64)
    history = rnn.train_row_classifier(model, (images, labels), num_epochs=20, batch_size=20,
                                       max_learning_rate=1e-2, max_shift=0)
    assert history.train_loss[-1] < history.train_loss[0]
    assert history.train_accuracy[-1] > 0.5


def test_train_lstm_returns_model_on_data_device(monkeypatch):
    monkeypatch.setattr(rnn, "LSTM_EPOCHS", 1)
    splits = data.load_mnist()
    images, labels = data.to_tensors(splits.train_images[:128], splits.train_labels[:128])
    model, history = rnn.train_lstm((images, labels), val_data=(images[:64], labels[:64]))
    assert isinstance(model, rnn.LSTMClassifier)
    assert len(history.train_loss) >= 1 and len(history.val_accuracy) == len(history.train_loss)
    with pytest.raises(TypeError):
        rnn.train_lstm(images)


# --- text ------------------------------------------------------------------------------------------

def test_course_text_reads_markdown_only(tmp_path):
    notebook = {"cells": [{"cell_type": "markdown", "source": ["# Title\n", "Some prose."]},
                          {"cell_type": "code", "source": "print('code is left out')"}]}
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "01_example.ipynb").write_text(json.dumps(notebook))
    (tmp_path / "notebooks" / "02_broken.ipynb").write_text("{not json")
    (tmp_path / "README.md").write_text("Read me.")
    text = rnn.course_text(tmp_path)
    assert "Some prose." in text and "Read me." in text and "code is left out" not in text
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="root folder"):
        rnn.course_text(tmp_path / "empty")


def test_course_text_of_the_repository_is_substantial():
    assert len(rnn.course_text()) > 5_000


def test_vocabulary_round_trip_and_errors():
    vocabulary = rnn.Vocabulary("hello world")
    assert len(vocabulary) == 8
    assert vocabulary.decode(vocabulary.encode("world")) == "world"
    with pytest.raises(ValueError, match="not in the vocabulary"):
        vocabulary.encode("xyz")
    with pytest.raises(ValueError, match="empty"):
        rnn.Vocabulary("")


def test_probabilities_with_temperature():
    logits = np.array([2.0, 1.0, 0.0])
    plain = rnn.probabilities_with_temperature(logits, 1.0)
    np.testing.assert_allclose(plain, np.exp(logits) / np.exp(logits).sum())
    cold, hot = rnn.probabilities_with_temperature(logits, 0.5), rnn.probabilities_with_temperature(logits, 5.0)
    assert cold[0] > plain[0] > hot[0]
    np.testing.assert_allclose(rnn.probabilities_with_temperature(np.array([1000.0, 0.0]), 1.0), [1.0, 0.0])
    with pytest.raises(ValueError, match="positive"):
        rnn.probabilities_with_temperature(logits, 0.0)


def test_char_lstm_and_generate():
    vocabulary = rnn.Vocabulary("abc ")
    torch.manual_seed(0)
    model = rnn.CharLSTM(len(vocabulary), embedding_size=4, hidden_size=8)
    logits, (h, c) = model(torch.zeros(2, 5, dtype=torch.int64))
    assert logits.shape == (2, 5, 4) and h.shape == (1, 2, 8)
    text = rnn.generate(model, vocabulary, "ab", length=20, temperature=1.0, seed=1)
    assert text.startswith("ab") and len(text) == 22 and set(text) <= set("abc ")
    assert text == rnn.generate(model, vocabulary, "ab", length=20, temperature=1.0, seed=1)
    with pytest.raises(ValueError, match="prompt"):
        rnn.generate(model, vocabulary, "", length=5)


# --- checks ----------------------------------------------------------------------------------------

def test_checks_are_exported():
    for name in ("check_rnn_forward", "check_lstm_cell_step", "check_sample_with_temperature"):
        assert getattr(checks, name) is getattr(rnn_checks, name)


def test_check_rnn_forward(capsys):
    assert checks.check_rnn_forward(rnn.rnn_forward)

    def forgets_the_memory(inputs, h0, W1, W2, W3):
        hidden_states = np.tanh(inputs @ W2)
        return hidden_states, hidden_states @ W3

    def off_by_one(inputs, h0, W1, W2, W3):     # returns the state *before* each input
        hidden_states, outputs = rnn.rnn_forward(inputs, h0, W1, W2, W3)
        previous = np.vstack([h0[None], hidden_states[:-1]])
        return previous, previous @ W3

    def only_outputs(inputs, h0, W1, W2, W3):
        return rnn.rnn_forward(inputs, h0, W1, W2, W3)[1]

    def stub(*args):
        raise NotImplementedError

    for wrong in (forgets_the_memory, off_by_one, only_outputs):
        assert not checks.check_rnn_forward(wrong)
    assert not checks.check_rnn_forward(stub)
    assert "⏳" in capsys.readouterr().out


def test_check_lstm_cell_step(capsys):
    assert checks.check_lstm_cell_step(rnn.lstm_cell_step)

    def gates_in_wrong_order(x, h, c, W_x, W_h, b):    # i, g, f, o instead of i, f, g, o
        i, f, g, o = (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)
        c_new = torch.sigmoid(g) * c + torch.sigmoid(i) * torch.tanh(f)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new

    def forgets_tanh_on_cell(x, h, c, W_x, W_h, b):
        i, f, g, o = (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * c_new, c_new

    def swapped_results(*args):
        h_new, c_new = rnn.lstm_cell_step(*args)
        return c_new, h_new

    for wrong in (gates_in_wrong_order, forgets_tanh_on_cell, swapped_results, lambda *args: 3.0):
        assert not checks.check_lstm_cell_step(wrong)
    assert not checks.check_lstm_cell_step(lambda *args: None)
    assert "⏳" in capsys.readouterr().out


def test_check_sample_with_temperature():
    assert checks.check_sample_with_temperature(rnn.sample_with_temperature)

    def multiplies_by_temperature(logits, temperature, rng):
        return int(rng.choice(len(logits), p=rnn.probabilities_with_temperature(logits, 1 / temperature)))

    def ignores_temperature(logits, temperature, rng):
        return int(rng.choice(len(logits), p=rnn.probabilities_with_temperature(logits, 1.0)))

    def greedy(logits, temperature, rng):
        return int(np.argmax(logits))

    def returns_probabilities(logits, temperature, rng):
        return rnn.probabilities_with_temperature(logits, temperature)

    for wrong in (multiplies_by_temperature, ignores_temperature, greedy, returns_probabilities):
        assert not checks.check_sample_with_temperature(wrong)
