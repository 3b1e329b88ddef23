"""The exercise checks of notebook 05 (RNN and LSTM): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np
import torch

from course_utils import checks
from course_utils.checks import rnn as rnn_checks



def _not_written(*args):
    raise NotImplementedError


# ------------------------------------------------------------------ notebook 05: RNN and LSTM

def test_check_rnn_forward(capsys):
    assert checks.check_rnn_forward(rnn_checks._rnn_forward)

    def forgets_the_memory(inputs, h0, W1, W2, W3):
        hidden_states = np.tanh(inputs @ W2)
        return hidden_states, hidden_states @ W3

    def off_by_one(inputs, h0, W1, W2, W3):     # returns the state *before* each input
        hidden_states, _ = rnn_checks._rnn_forward(inputs, h0, W1, W2, W3)
        previous = np.vstack([h0[None], hidden_states[:-1]])
        return previous, previous @ W3

    def only_outputs(inputs, h0, W1, W2, W3):
        return rnn_checks._rnn_forward(inputs, h0, W1, W2, W3)[1]

    for wrong in (forgets_the_memory, off_by_one, only_outputs):
        assert not checks.check_rnn_forward(wrong), wrong.__name__
    assert not checks.check_rnn_forward(_not_written)
    assert "⏳" in capsys.readouterr().out


def test_check_lstm_cell_step(capsys):
    assert checks.check_lstm_cell_step(rnn_checks._lstm_cell_step)

    def gates_in_wrong_order(x, h, c, W_x, W_h, b):    # i, g, f, o instead of i, f, g, o
        i, f, g, o = (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)
        c_new = torch.sigmoid(g) * c + torch.sigmoid(i) * torch.tanh(f)
        return torch.sigmoid(o) * torch.tanh(c_new), c_new

    def forgets_tanh_on_cell(x, h, c, W_x, W_h, b):
        i, f, g, o = (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)
        c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * c_new, c_new

    def swapped_results(*args):
        h_new, c_new = rnn_checks._lstm_cell_step(*args)
        return c_new, h_new

    for wrong in (gates_in_wrong_order, forgets_tanh_on_cell, swapped_results, lambda *args: 3.0):
        assert not checks.check_lstm_cell_step(wrong)
    assert not checks.check_lstm_cell_step(lambda *args: None)
    assert "⏳" in capsys.readouterr().out


def _sample(logits, temperature, rng):
    return int(rng.choice(len(logits), p=rnn_checks._probabilities_with_temperature(logits, temperature)))


def test_check_sample_with_temperature():
    assert checks.check_sample_with_temperature(_sample)

    def multiplies_by_temperature(logits, temperature, rng):
        return _sample(logits, 1 / temperature, rng)

    def ignores_temperature(logits, temperature, rng):
        return _sample(logits, 1.0, rng)

    def greedy(logits, temperature, rng):
        return int(np.argmax(logits))

    def returns_probabilities(logits, temperature, rng):
        return rnn_checks._probabilities_with_temperature(logits, temperature)

    for wrong in (multiplies_by_temperature, ignores_temperature, greedy, returns_probabilities):
        assert not checks.check_sample_with_temperature(wrong), wrong.__name__
