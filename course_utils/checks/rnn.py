"""Checks for notebook 05 (RNN and LSTM on MNIST, and generating text)."""

from __future__ import annotations

import numpy as np
import torch

from course_utils.checks.core import Verdict, run_check

__all__ = ["check_rnn_forward", "check_lstm_cell_step", "check_sample_with_temperature"]

# Reference answers.

def _rnn_forward(inputs, h0, W1, W2, W3):
    h, hidden_states, outputs = h0, [], []
    for x in inputs:
        h = np.tanh(h @ W1 + x @ W2)
        hidden_states.append(h)
        outputs.append(h @ W3)
    return np.array(hidden_states), np.array(outputs)


def _lstm_cell_step(x, h, c, W_x, W_h, b):
    i, f, g, o = (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


def _probabilities_with_temperature(logits, temperature):
    weights = np.exp((logits - logits.max()) / temperature)
    return weights / weights.sum()



def _pair_as_array(function):
    """Wrap a function returning a pair (a, b) of equal shapes so that the check compares stack([a, b]).

    ``None`` is passed through (the stub is not written yet); anything other than a pair of equal shapes
    comes back as a marker string, which fails the comparison with a clear message.
    """
    def wrapped(*args):
        result = function(*args)
        if result is None:
            return None
        if not (isinstance(result, (tuple, list)) and len(result) == 2):
            return f"not a pair: a {type(result).__name__}"
        first, second = (np.asarray(part.detach().cpu() if torch.is_tensor(part) else part, dtype=np.float64) for part in result)
        if first.shape != second.shape:
            return f"a pair of shapes {first.shape} and {second.shape}"
        return np.stack([first, second])
    return wrapped


def check_rnn_forward(rnn_forward) -> Verdict:
    """``rnn_forward(inputs (T, D), h0 (H,), W1 (H, H), W2 (D, H), W3 (H, K))`` -> (hidden states (T, H), outputs (T, K))."""
    rng = np.random.default_rng(5)
    cases = []
    for length, input_size, hidden_size, output_size in [(1, 2, 3, 3), (4, 3, 2, 2), (6, 5, 4, 4)]:
        args = (rng.normal(size=(length, input_size)), rng.normal(size=hidden_size) * 0.5,
                rng.normal(size=(hidden_size, hidden_size)), rng.normal(size=(input_size, hidden_size)),
                rng.normal(size=(hidden_size, output_size)))
        hidden_states, outputs = _rnn_forward(*args)
        cases.append((args, np.stack([hidden_states, outputs])))
    # output_size == hidden_size above, so the two results stack into one array to compare
    return run_check("rnn_forward", _pair_as_array(rnn_forward), cases, tolerance=1e-7, describe_inputs=False,
                     hint="Hint: start from h = h0; for each row x of inputs: h = tanh(h @ W1 + x @ W2), y = h @ W3; "
                          "keep every h and every y, and return (np.array(hs), np.array(ys)).")


def check_lstm_cell_step(lstm_cell_step) -> Verdict:
    """``lstm_cell_step(x (N, D), h (N, H), c (N, H), W_x (4H, D), W_h (4H, H), b (4H,))`` -> (h_new, c_new), each (N, H)."""
    generator = torch.Generator().manual_seed(3)
    cases = []
    for batch, input_size, hidden_size in [(1, 2, 3), (4, 5, 2), (3, 28, 8)]:
        args = (torch.randn(batch, input_size, generator=generator, dtype=torch.float64),
                torch.randn(batch, hidden_size, generator=generator, dtype=torch.float64),
                torch.randn(batch, hidden_size, generator=generator, dtype=torch.float64),
                torch.randn(4 * hidden_size, input_size, generator=generator, dtype=torch.float64),
                torch.randn(4 * hidden_size, hidden_size, generator=generator, dtype=torch.float64),
                torch.randn(4 * hidden_size, generator=generator, dtype=torch.float64))
        h_new, c_new = _lstm_cell_step(*args)
        cases.append((args, np.stack([h_new.numpy(), c_new.numpy()])))
    return run_check("lstm_cell_step", _pair_as_array(lstm_cell_step), cases, tolerance=1e-7, describe_inputs=False,
                     hint="Hint: z = x @ W_x.T + h @ W_h.T + b; split z in four along the last axis in the order "
                          "i, f, g, o; sigmoid for i, f, o, tanh for g; c_new = f*c + i*g; h_new = o*tanh(c_new).")


SAMPLING_DRAWS = 5000


def _frequencies(sample_with_temperature, logits, temperature):
    """Share of each index among SAMPLING_DRAWS draws from a fixed-seed generator."""
    rng = np.random.default_rng(0)
    counts = np.zeros(len(logits))
    for _ in range(SAMPLING_DRAWS):
        index = sample_with_temperature(logits, temperature, rng)
        if index is None:
            return None
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(logits):
            raise ValueError(f"expected an integer index 0..{len(logits) - 1}, got {index!r}")
        counts[int(index)] += 1
    return counts / SAMPLING_DRAWS


def _sample_with_temperature(logits, temperature, rng):
    """The reference answer: one index drawn from softmax(logits / temperature)."""
    return int(rng.choice(len(logits), p=_probabilities_with_temperature(logits, temperature)))


def check_sample_with_temperature(sample_with_temperature) -> Verdict:
    """``sample_with_temperature(logits (V,), temperature, rng)`` -> one int index, drawn from softmax(logits / temperature).

    Compares how often each index comes up in 5,000 draws with the probabilities
    (relative error at most 0.1, several times the sampling noise).
    """
    logits = np.array([0.8, 0.3, 0.0, -0.4])
    cases = [((logits, temperature), _probabilities_with_temperature(logits, temperature)) for temperature in (1.0, 0.7, 2.0)]
    cases.append(((np.array([0.0, 3.0, 1.0]), 0.05), np.array([0.0, 1.0, 0.0])))   # nearly greedy
    return run_check("sample_with_temperature", lambda *args: _frequencies(sample_with_temperature, *args), cases,
                     tolerance=0.1,
                     hint="Hint: probabilities = softmax(logits / temperature) (subtract the max first), "
                          "then return int(rng.choice(len(logits), p=probabilities)).")
