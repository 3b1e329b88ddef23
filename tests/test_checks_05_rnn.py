"""The exercise checks of notebook 05 (RNN and LSTM): each accepts a correct answer and rejects named mistakes."""

from __future__ import annotations

import numpy as np
import torch

from course_utils import checks
from course_utils.checks import rnn as rnn_checks


def _not_written(*args):
    raise NotImplementedError


REFERENCES = {
    "check_rnn_forward": rnn_checks._rnn_forward,
    "check_rnn_step_backward": rnn_checks._rnn_step_backward,
    "check_blank_rows": rnn_checks._blank_rows,
    "check_lstm_cell_step": rnn_checks._lstm_cell_step,
    "check_sample_with_temperature": rnn_checks._sample_with_temperature,
    "check_generate_indices": rnn_checks._generate_indices,
}


def test_every_check_of_the_module_has_a_reference_here():
    assert sorted(REFERENCES) == sorted(rnn_checks.__all__)


def test_each_check_passes_its_reference_diagnoses_its_mistakes_and_says_how_to_start(capsys):
    for name, reference in REFERENCES.items():
        check = getattr(checks, name)
        answers = [reference, *(mistake.wrong for mistake in check.mistakes), _not_written]
        verdicts = [bool(check(answer)) for answer in answers]
        lines = capsys.readouterr().out.splitlines()
        assert verdicts == [True] + [False] * (len(answers) - 1), name
        assert lines[0].startswith("✅") and lines[-1].startswith("⏳") and "Start" in lines[-1], name
        assert len(check.mistakes) >= 2, name
        for mistake, line in zip(check.mistakes, lines[1:-1]):
            assert mistake.diagnosis in line, f"{name}: {line}"


# ------------------------------------------------------------------ the RNN over a sequence

def test_check_rnn_forward(capsys):
    assert checks.check_rnn_forward(rnn_checks._rnn_forward)

    def only_outputs(inputs, h0, W1, W2, W3):
        return rnn_checks._rnn_forward(inputs, h0, W1, W2, W3)[1]

    def weights_swapped(inputs, h0, W1, W2, W3):       # x @ W1 and h @ W2: wrong shapes unless D == H
        h, states = h0, []
        for x in inputs:
            h = np.tanh(x @ W1 + h @ W2)
            states.append(h)
        return np.array(states), np.array(states) @ W3

    def lists_instead_of_arrays(inputs, h0, W1, W2, W3):  # a fine answer: lists of rows are arrays too
        states, outputs = rnn_checks._rnn_forward(inputs, h0, W1, W2, W3)
        return list(states), list(outputs)

    capsys.readouterr()
    assert not checks.check_rnn_forward(only_outputs)
    assert "expected a tuple of 2 (hidden_states, outputs)" in capsys.readouterr().out
    assert not checks.check_rnn_forward(weights_swapped)
    assert "❌" in capsys.readouterr().out
    assert checks.check_rnn_forward(lists_instead_of_arrays)
    assert not checks.check_rnn_forward(_not_written)
    assert "⏳" in capsys.readouterr().out


# ------------------------------------------------------------------ one step of BPTT

def test_rnn_step_backward_reference_agrees_with_autograd():
    rng = np.random.default_rng(0)
    x, h_prev = rng.normal(size=(3, 4)), np.tanh(rng.normal(size=(3, 5)))
    W1, W2, dh = rng.normal(size=(5, 5)), rng.normal(size=(4, 5)), rng.normal(size=(3, 5))
    h = np.tanh(h_prev @ W1 + x @ W2)
    by_hand = rnn_checks._rnn_step_backward(dh, x, h_prev, h, W1, W2)
    by_autograd = rnn_checks._rnn_step_by_autograd(dh, x, h_prev, h, W1, W2)
    for ours, theirs in zip(by_hand, by_autograd):
        assert checks.rel_error(ours, theirs) < 1e-10


def test_check_rnn_step_backward(capsys):
    def weight_gradients_transposed(dh, x, h_prev, h, W1, W2):
        dx, dh_prev, dW1, dW2 = rnn_checks._rnn_step_backward(dh, x, h_prev, h, W1, W2)
        return dx, dh_prev, dW1.T, dW2

    def sign_flipped(*args):
        return tuple(-part for part in rnn_checks._rnn_step_backward(*args))

    def three_results(*args):
        return rnn_checks._rnn_step_backward(*args)[:3]

    for wrong in (weight_gradients_transposed, sign_flipped):
        assert not checks.check_rnn_step_backward(wrong), wrong.__name__
        assert "Hint:" in capsys.readouterr().out
    assert not checks.check_rnn_step_backward(three_results)
    assert "expected a tuple of 4" in capsys.readouterr().out


# ------------------------------------------------------------------ blanking a band of rows

def test_check_blank_rows(capsys):
    def in_place(images, first_row, last_row, background):
        images[:, :, first_row - 1:last_row, :] = background
        return images

    def every_row_but_the_band(images, first_row, last_row, background):
        blanked = torch.full_like(images, background)
        blanked[:, :, first_row - 1:last_row] = images[:, :, first_row - 1:last_row]
        return blanked

    assert not checks.check_blank_rows(in_place)
    assert "changed the images it was given" in capsys.readouterr().out
    assert not checks.check_blank_rows(every_row_but_the_band)
    assert "Hint:" in capsys.readouterr().out


# ------------------------------------------------------------------ the LSTM cell

def test_check_lstm_cell_step_says_which_of_h_and_c_is_wrong(capsys):
    def h_off_by_a_factor(*args):                  # c right, h wrong, and no named mistake
        h_new, c_new = rnn_checks._lstm_cell_step(*args)
        return 0.5 * h_new, c_new

    def c_off_but_h_right(*args):                  # h right, c wrong
        h_new, c_new = rnn_checks._lstm_cell_step(*args)
        return h_new, c_new + 1.0

    def both_off(*args):
        h_new, c_new = rnn_checks._lstm_cell_step(*args)
        return h_new + 1.0, c_new - 1.0

    assert not checks.check_lstm_cell_step(h_off_by_a_factor)
    assert "Your c_new is right and your h_new is wrong" in capsys.readouterr().out
    assert not checks.check_lstm_cell_step(c_off_but_h_right)
    assert "Your h_new is right and your c_new is wrong" in capsys.readouterr().out
    assert not checks.check_lstm_cell_step(both_off)
    assert "Both h_new and c_new are wrong" in capsys.readouterr().out
    assert not checks.check_lstm_cell_step(lambda *args: 3.0)
    assert "expected a tuple of 2" in capsys.readouterr().out


def test_lstm_reference_matches_torch_lstm_cell():
    torch.manual_seed(0)
    cell = torch.nn.LSTMCell(3, 4).double()
    x, h, c = torch.randn(2, 3, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64), torch.randn(2, 4, dtype=torch.float64)
    with torch.no_grad():
        ours = rnn_checks._lstm_cell_step(x, h, c, cell.weight_ih, cell.weight_hh, cell.bias_ih + cell.bias_hh)
        theirs = cell(x, (h, c))
    for mine, torchs in zip(ours, theirs):
        assert checks.rel_error(mine, torchs) < 1e-12


# ------------------------------------------------------------------ sampling with a temperature

def test_check_sample_with_temperature(capsys):
    def without_subtracting_the_maximum(logits, temperature, rng):   # overflows at scores near 900
        with np.errstate(over="ignore", invalid="ignore"):
            weights = np.exp(np.asarray(logits) / temperature)
            probabilities = weights / weights.sum()
        return int(rng.choice(len(logits), p=probabilities))

    def returns_probabilities(logits, temperature, rng):
        return rnn_checks._probabilities_with_temperature(logits, temperature)

    def by_inverse_cdf(logits, temperature, rng):    # a correct sampler that draws differently from rng.choice
        probabilities = rnn_checks._probabilities_with_temperature(np.asarray(logits, float), temperature)
        return int(min(np.searchsorted(np.cumsum(probabilities), rng.random()), len(logits) - 1))

    assert not checks.check_sample_with_temperature(without_subtracting_the_maximum)
    assert "case 5" in capsys.readouterr().out
    assert not checks.check_sample_with_temperature(returns_probabilities)
    assert "integer index" in capsys.readouterr().out
    assert checks.check_sample_with_temperature(by_inverse_cdf)


# ------------------------------------------------------------------ the sampling loop

def test_check_generate_indices(capsys):
    def one_too_many(step, logits, state, length, sample):
        return rnn_checks._generate_indices(step, logits, state, length + 1, sample)

    def feeds_back_the_first_index(step, logits, state, length, sample):
        indices = []
        for _ in range(length):
            indices.append(sample(logits))
            logits, state = step(indices[0], state)
        return indices

    assert not checks.check_generate_indices(one_too_many)
    assert "expected shape" in capsys.readouterr().out
    assert not checks.check_generate_indices(feeds_back_the_first_index)
    assert "Hint:" in capsys.readouterr().out
    assert not checks.check_generate_indices(_not_written)
    assert "⏳" in capsys.readouterr().out
