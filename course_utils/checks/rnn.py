"""Checks for notebook 05 (RNN and LSTM on MNIST, and generating text).

The RNN over a sequence, one step of backpropagation through time (compared with autograd), blanking a band
of rows, the LSTM cell, sampling with a temperature and the sampling loop that carries the state forward.
Each check names the common mistakes of its exercise (``Mistake``): a wrong answer that equals what a function
with that mistake returns gets the mistake's diagnosis instead of a bare "expected …, got …".
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from course_utils.checks.core import Mistake, Verdict, call_learner, recognising, rel_error, run_check
from course_utils.checks.core import as_float_array as _as_array
from course_utils.checks.core import joined as _joined
from course_utils.checks.core import joined_mistakes as _joined_mistakes

__all__ = ["check_rnn_forward", "check_rnn_step_backward", "check_blank_rows", "check_lstm_cell_step",
           "check_sample_with_temperature", "check_generate_indices"]

# --------------------------------------------------------------------------- reference answers


def _rnn_forward(inputs, h0, W1, W2, W3):
    h, hidden_states, outputs = h0, [], []
    for x in inputs:
        h = np.tanh(h @ W1 + x @ W2)
        hidden_states.append(h)
        outputs.append(h @ W3)
    return np.array(hidden_states), np.array(outputs)


def _rnn_step_backward(dh, x, h_prev, h, W1, W2):
    da = dh * (1 - h ** 2)
    return da @ W2.T, da @ W1.T, h_prev.T @ da, x.T @ da


def _blank_rows(images, first_row, last_row, background):
    blanked = images.clone()
    blanked[:, :, first_row - 1:last_row, :] = background
    return blanked


def _lstm_cell_step(x, h, c, W_x, W_h, b):
    i, f, g, o = (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)
    c_new = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c_new), c_new


def _probabilities_with_temperature(logits, temperature):
    weights = np.exp((logits - logits.max()) / temperature)
    return weights / weights.sum()


def _sample_with_temperature(logits, temperature, rng):
    """The reference answer: one index drawn from softmax(logits / temperature)."""
    return int(rng.choice(len(logits), p=_probabilities_with_temperature(np.asarray(logits, float), temperature)))


def _generate_indices(step, logits, state, length, sample):
    indices = []
    for _ in range(length):
        index = sample(logits)
        indices.append(index)
        logits, state = step(index, state)
    return indices


# --------------------------------------------------------------------------- the RNN over a sequence

def _rnn_without_memory(inputs, h0, W1, W2, W3):
    hidden_states = np.array([np.tanh(h0 @ W1 + x @ W2) for x in inputs])
    return hidden_states, hidden_states @ W3


def _rnn_state_before_each_input(inputs, h0, W1, W2, W3):
    hidden_states, _ = _rnn_forward(inputs, h0, W1, W2, W3)
    previous = np.vstack([h0[None], hidden_states[:-1]])
    return previous, previous @ W3


def _rnn_without_tanh(inputs, h0, W1, W2, W3):
    h, hidden_states = h0, []
    for x in inputs:
        h = h @ W1 + x @ W2
        hidden_states.append(h)
    hidden_states = np.array(hidden_states)
    return hidden_states, hidden_states @ W3


def _rnn_output_before_tanh(inputs, h0, W1, W2, W3):
    h, hidden_states, outputs = h0, [], []
    for x in inputs:
        pre_activation = h @ W1 + x @ W2
        h = np.tanh(pre_activation)
        hidden_states.append(h)
        outputs.append(pre_activation @ W3)
    return np.array(hidden_states), np.array(outputs)


_RNN_FORWARD_MISTAKES = (
    Mistake("the hidden state is not carried forward: every step starts again from h0, so the network has no "
            "memory; each step must read the state that the step before it produced",
            _rnn_without_memory),
    Mistake("off by one step: row t of your results is the state before reading inputs[t]; record the state "
            "after the update, so that the last row has read the whole sequence",
            _rnn_state_before_each_input),
    Mistake("the tanh is missing: the new state is the squashed sum of the two products, otherwise the state "
            "can grow without bound from step to step",
            _rnn_without_tanh),
    Mistake("the hidden states are right, the outputs are not: each output is read from the new state, after "
            "the tanh, not from the sum inside it",
            _rnn_output_before_tanh),
)
_RNN_FORWARD_NAMES = ("hidden_states", "outputs")


@recognising(*_RNN_FORWARD_MISTAKES)
def check_rnn_forward(rnn_forward) -> Verdict:
    """``rnn_forward(inputs (T, D), h0 (H,), W1 (H, H), W2 (D, H), W3 (H, K))`` -> (hidden states (T, H), outputs (T, K))."""
    rng = np.random.default_rng(5)
    cases = []
    for length, input_size, hidden_size, output_size in [(1, 2, 3, 1), (4, 3, 2, 2), (6, 5, 4, 3)]:
        args = (rng.normal(size=(length, input_size)), rng.normal(size=hidden_size) * 0.5,
                rng.normal(size=(hidden_size, hidden_size)), rng.normal(size=(input_size, hidden_size)),
                rng.normal(size=(hidden_size, output_size)))
        cases.append((args, np.concatenate([part.ravel() for part in _rnn_forward(*args)])))
    return run_check("rnn_forward", _joined(rnn_forward, _rnn_forward, _RNN_FORWARD_NAMES), cases, tolerance=1e-7,
                     describe_inputs=False,
                     mistakes=_joined_mistakes(_RNN_FORWARD_MISTAKES, _rnn_forward, _RNN_FORWARD_NAMES),
                     start="Start from the given state h0 and an empty list for the states and one for the outputs; "
                           "then go through the rows of inputs one at a time.",
                     hint="Hint: run a sequence of two rows on paper. Which state does the second step read, and "
                          "from which state is each output computed?")


# --------------------------------------------------------------------------- one step of BPTT

def _rnn_step_by_autograd(dh, x, h_prev, h, W1, W2):
    """The gradients of sum(dh * tanh(h_prev @ W1 + x @ W2)) by torch.autograd (h must be that tanh)."""
    x, h_prev, W1, W2 = (torch.tensor(array, dtype=torch.float64, requires_grad=True) for array in (x, h_prev, W1, W2))
    new_state = torch.tanh(h_prev @ W1 + x @ W2)
    gradients = torch.autograd.grad((new_state * torch.as_tensor(dh)).sum(), (x, h_prev, W1, W2))
    return tuple(gradient.numpy() for gradient in gradients)


def _backward_with_slope(slope):
    def backward(dh, x, h_prev, h, W1, W2):
        da = dh * slope(h_prev, h)
        return da @ W2.T, da @ W1.T, h_prev.T @ da, x.T @ da
    return backward


def _backward_untransposed(dh, x, h_prev, h, W1, W2):
    da = dh * (1 - h ** 2)
    return da @ W2.T, da @ W1, h_prev.T @ da, x.T @ da


def _backward_averaged(dh, x, h_prev, h, W1, W2):
    dx, dh_prev, dW1, dW2 = _rnn_step_backward(dh, x, h_prev, h, W1, W2)
    return dx, dh_prev, dW1 / len(x), dW2 / len(x)


_RNN_STEP_BACKWARD_MISTAKES = (
    Mistake("the tanh is skipped on the way back: before it reaches the weights and the inputs, the gradient "
            "must be scaled by the slope of tanh at this step",
            _backward_with_slope(lambda h_prev, h: 1.0)),
    Mistake("the slope of tanh is taken at the wrong place: h is already the tanh of the pre-activation, so its "
            "slope is written with h itself; you applied tanh to h a second time",
            _backward_with_slope(lambda h_prev, h: 1 - np.tanh(h) ** 2)),
    Mistake("the slope of tanh is taken from the previous state h_prev: it belongs to the state this step "
            "produced, h",
            _backward_with_slope(lambda h_prev, h: 1 - h_prev ** 2)),
    Mistake("dh_prev goes back through W1 the wrong way round: in the forward pass h_prev multiplied W1 from the "
            "left, so on the way back the gradient meets W1 turned over (only dh_prev is wrong)",
            _backward_untransposed),
    Mistake("dW1 and dW2 are divided by the batch size: the loss here is a sum over the N sequences, so every "
            "sequence adds its full share to the weight gradients",
            _backward_averaged),
)
_RNN_STEP_BACKWARD_NAMES = ("dx", "dh_prev", "dW1", "dW2")


@recognising(*_RNN_STEP_BACKWARD_MISTAKES)
def check_rnn_step_backward(rnn_step_backward) -> Verdict:
    """``rnn_step_backward(dh (N, H), x (N, D), h_prev (N, H), h (N, H), W1 (H, H), W2 (D, H))`` -> (dx, dh_prev, dW1, dW2).

    h = tanh(h_prev @ W1 + x @ W2); the four gradients of sum(dh * h) are compared with torch.autograd's
    (relative error at most 1e-7).
    """
    rng = np.random.default_rng(6)
    cases = []
    for batch, input_size, hidden_size in [(1, 2, 3), (4, 3, 5), (6, 28, 4)]:
        x, h_prev = rng.normal(size=(batch, input_size)), np.tanh(rng.normal(size=(batch, hidden_size)))
        W1, W2 = rng.normal(size=(hidden_size, hidden_size)) * 0.6, rng.normal(size=(input_size, hidden_size)) * 0.4
        h, dh = np.tanh(h_prev @ W1 + x @ W2), rng.normal(size=(batch, hidden_size))
        expected = _rnn_step_by_autograd(dh, x, h_prev, h, W1, W2)
        cases.append(((dh, x, h_prev, h, W1, W2), np.concatenate([part.ravel() for part in expected])))
    return run_check("rnn_step_backward", _joined(rnn_step_backward, _rnn_step_backward, _RNN_STEP_BACKWARD_NAMES),
                     cases, tolerance=1e-7, describe_inputs=False,
                     mistakes=_joined_mistakes(_RNN_STEP_BACKWARD_MISTAKES, _rnn_step_backward,
                                               _RNN_STEP_BACKWARD_NAMES),
                     start="Start by turning dh into the gradient with respect to the pre-activation, the sum "
                           "inside the tanh: all four results follow from that one (N, H) array.",
                     hint="Hint: write the shape of each result beside the shapes you can multiply to get it; "
                          "dW1 is (H, H) and adds up the contributions of all N sequences.")


# --------------------------------------------------------------------------- blanking a band of rows

def _blank_rows_counted_from_zero(images, first_row, last_row, background):
    blanked = images.clone()
    blanked[:, :, first_row:last_row + 1, :] = background
    return blanked


_BLANK_ROWS_MISTAKES = (
    Mistake("the band is one row too low: the rows are counted from 1 (row 1 is the top row), while a tensor "
            "counts its rows from 0",
            _blank_rows_counted_from_zero),
    Mistake("the last row of the band is left out: the band runs from first_row to last_row, both included",
            lambda images, first_row, last_row, background: _blank_rows(images, first_row, last_row - 1, background)),
    Mistake("the rows are set to 0, which after normalisation is a grey pixel, not blank paper: use the "
            "background value you are given",
            lambda images, first_row, last_row, background: _blank_rows(images, first_row, last_row, 0.0)),
    Mistake("columns are blanked instead of rows: in an (N, 1, 28, 28) batch the rows are the third axis and "
            "the columns the fourth",
            lambda images, first_row, last_row, background:
            _blank_rows(images.transpose(2, 3), first_row, last_row, background).transpose(2, 3)),
)


def _untouched_input(blank_rows):
    """Wrap blank_rows so that changing its input images in place is reported (as a ValueError)."""
    def wrapped(images, first_row, last_row, background):
        original = images.clone()
        result = blank_rows(images, first_row, last_row, background)
        if not torch.equal(images, original):
            raise ValueError("blank_rows changed the images it was given: work on a copy, since the same test "
                             "images are blanked again band after band")
        return result
    return wrapped


@recognising(*_BLANK_ROWS_MISTAKES)
def check_blank_rows(blank_rows) -> Verdict:
    """``blank_rows(images (N, 1, 28, 28), first_row, last_row, background)`` -> a blanked copy, same shape.

    Rows first_row..last_row, counted from 1 and both included, become ``background``; the input is untouched.
    """
    generator = torch.Generator().manual_seed(7)
    background = -0.4242
    cases = []
    for count, first_row, last_row in [(2, 1, 10), (3, 19, 28), (1, 5, 5), (2, 11, 18)]:
        images = torch.randn(count, 1, 28, 28, generator=generator, dtype=torch.float64)
        cases.append(((images, first_row, last_row, background), _blank_rows(images, first_row, last_row, background)))
    return run_check("blank_rows", _untouched_input(blank_rows), cases, tolerance=0, describe_inputs=False,
                     mistakes=_BLANK_ROWS_MISTAKES,
                     start="Start from a copy of the images, so the originals stay as they are; then overwrite "
                           "the band of rows in every image of the copy.",
                     hint="Hint: blank the band 1 to 1 of a single image and look at which row changed; then the "
                          "band 28 to 28.")


# --------------------------------------------------------------------------- the LSTM cell

def _lstm_variant(*, order="ifgo", candidate=torch.tanh, swap_gates=False, squash_cell=True, old_cell=False,
                  swap_results=False):
    """An LSTM step with one mistake built in (the defaults give the right step)."""
    def step(x, h, c, W_x, W_h, b):
        blocks = dict(zip(order, (x @ W_x.T + h @ W_h.T + b).chunk(4, dim=-1)))
        i, f, o = torch.sigmoid(blocks["i"]), torch.sigmoid(blocks["f"]), torch.sigmoid(blocks["o"])
        g = candidate(blocks["g"])
        c_new = i * c + f * g if swap_gates else f * c + i * g
        shown = c if old_cell else c_new
        h_new = o * (torch.tanh(shown) if squash_cell else shown)
        return (c_new, h_new) if swap_results else (h_new, c_new)
    return step


_LSTM_MISTAKES = tuple(Mistake(diagnosis, _lstm_variant(**mistake)) for mistake, diagnosis in [
    (dict(order="ifog"), "the four gate blocks are read in the wrong order (both h_new and c_new are wrong): PyTorch "
                         "stacks them input gate, forget gate, cell candidate g, output gate; you took the third block "
                         "as the output gate and the fourth as the candidate"),
    (dict(swap_results=True), "h and c are swapped: your first result is the new cell c_new and your second the new "
                              "hidden state h_new; return the hidden state first"),
    (dict(squash_cell=False), "c_new is right, h_new is wrong: the tanh on the cell is missing; the output gate scales "
                              "the new cell after it has been squashed into -1..1"),
    (dict(swap_gates=True), "c_new is wrong (and so h_new): the forget gate is applied to the input; the forget gate "
                            "scales what is kept of the old cell c, the input gate scales the new candidate g"),
    (dict(old_cell=True), "c_new is right, h_new is wrong: h_new is read from the old cell c; it must show the cell "
                          "of this step, c_new"),
    (dict(candidate=torch.sigmoid), "c_new is wrong (and so h_new): the cell candidate g went through a sigmoid; it "
                                    "takes tanh, so that it can also lower the cell"),
])
_LSTM_NAMES = ("h_new", "c_new")


def _which_state_is_wrong(lstm_cell_step, cases) -> str:
    """A hint naming which of h_new and c_new differs from the reference on the first case that fails."""
    for args, _ in cases:
        outcome = call_learner(lstm_cell_step, args, show_output=False)
        try:
            h_new, c_new = outcome.value
            reference_h, reference_c = _lstm_cell_step(*args)
            h_error = rel_error(_as_array(h_new), _as_array(reference_h))
            c_error = rel_error(_as_array(c_new), _as_array(reference_c))
        except Exception:  # not written, failed, or not a pair of the right shapes: the check reports that itself
            return ""
        if c_error <= 1e-7 < h_error:
            return "Your c_new is right and your h_new is wrong: look at the last equation, h_t."
        if h_error <= 1e-7 < c_error:
            return "Your h_new is right and your c_new is wrong: look at the cell equation, c_t."
        if min(h_error, c_error) > 1e-7:
            return ("Both h_new and c_new are wrong: get c_new right first (the four blocks, their squashing "
                    "functions and the cell equation), since h_new is computed from it.")
    return ""


@recognising(*_LSTM_MISTAKES)
def check_lstm_cell_step(lstm_cell_step) -> Verdict:
    """``lstm_cell_step(x (N, D), h (N, H), c (N, H), W_x (4H, D), W_h (4H, H), b (4H,))`` -> (h_new, c_new), each (N, H).

    Compared in float64 with the reference on three random cases (relative error at most 1e-7). When no named
    mistake matches, the message says which of h_new and c_new is wrong.
    """
    generator = torch.Generator().manual_seed(3)
    cases = []
    for batch, input_size, hidden_size in [(1, 2, 3), (4, 5, 2), (3, 28, 8)]:
        args = tuple(torch.randn(*shape, generator=generator, dtype=torch.float64) for shape in
                     [(batch, input_size), (batch, hidden_size), (batch, hidden_size),
                      (4 * hidden_size, input_size), (4 * hidden_size, hidden_size), (4 * hidden_size,)])
        cases.append((args, torch.cat([part.ravel() for part in _lstm_cell_step(*args)])))
    which = _which_state_is_wrong(lstm_cell_step, cases) if callable(lstm_cell_step) else ""
    return run_check("lstm_cell_step", _joined(lstm_cell_step, _lstm_cell_step, _LSTM_NAMES), cases, tolerance=1e-7,
                     describe_inputs=False, mistakes=_joined_mistakes(_LSTM_MISTAKES, _lstm_cell_step, _LSTM_NAMES),
                     start="Start with the one product that gives all four gates' pre-activations at once, an "
                           "(N, 4H) array, and cut it into its four (N, H) blocks.",
                     hint=(which + " " if which else "")
                     + "Hint: write the five equations next to your lines and tick off each one.")


# --------------------------------------------------------------------------- sampling with a temperature

SAMPLING_DRAWS = 4000


def _frequencies(sample_with_temperature, logits, temperature):
    """Share of each index among SAMPLING_DRAWS draws from a fixed-seed generator."""
    rng = np.random.default_rng(0)
    counts = np.zeros(len(logits))
    for _ in range(SAMPLING_DRAWS):
        index = sample_with_temperature(copy.deepcopy(logits), temperature, rng)
        if index is None:
            return None
        if not isinstance(index, (int, np.integer)) or not 0 <= index < len(logits):
            raise ValueError(f"expected an integer index 0..{len(logits) - 1}, got {index!r}")
        counts[int(index)] += 1
    return counts / SAMPLING_DRAWS


_SAMPLING_MISTAKES = (
    Mistake("the temperature multiplies the scores: it must divide them, so that a temperature below 1 sharpens "
            "the probabilities and a temperature above 1 flattens them",
            lambda logits, temperature, rng: _sample_with_temperature(logits, 1 / temperature, rng)),
    Mistake("always the most likely index: that is sampling by argmax, which ignores the probabilities (and the "
            "temperature); draw the index at random with the softmax probabilities",
            lambda logits, temperature, rng: int(np.argmax(logits))),
    Mistake("the temperature is ignored: the draws follow softmax(logits) whatever the temperature",
            lambda logits, temperature, rng: _sample_with_temperature(logits, 1.0, rng)),
    Mistake("every index is equally likely: the draw does not use the probabilities",
            lambda logits, temperature, rng: int(rng.integers(len(logits)))),
)


@recognising(*_SAMPLING_MISTAKES)
def check_sample_with_temperature(sample_with_temperature) -> Verdict:
    """``sample_with_temperature(logits (V,), temperature, rng)`` -> one int index, drawn from softmax(logits / temperature).

    Compares how often each index comes up in 4,000 draws with the probabilities
    (relative error at most 0.1, several times the sampling noise).
    """
    logits = np.array([0.8, 0.3, 0.0, -0.4])
    cases = [((logits, temperature), _probabilities_with_temperature(logits, temperature)) for temperature in (1.0, 0.5, 2.0)]
    cases.append(((np.array([0.0, 3.0, 1.0]), 0.05), np.array([0.0, 1.0, 0.0])))   # nearly greedy
    cases.append(((np.array([900.0, 899.0]), 1.0), _probabilities_with_temperature(np.array([1.0, 0.0]), 1.0)))  # overflow
    mistakes = tuple(Mistake(mistake.diagnosis, lambda logits, temperature, wrong=mistake.wrong:
                             _frequencies(wrong, logits, temperature)) for mistake in _SAMPLING_MISTAKES)
    return run_check("sample_with_temperature", lambda *args: _frequencies(sample_with_temperature, *args), cases,
                     tolerance=0.1, mistakes=mistakes,
                     start="Start by turning the scores into probabilities that sum to 1, with the temperature "
                           "applied to the scores first; then let rng pick one index with those probabilities.",
                     hint="Hint: at temperature 0.5 the largest score's share must grow, at 2 it must shrink; and "
                          "scores near 900 must not overflow exp (the softmax does not change when the same "
                          "number is taken off every score).")


# --------------------------------------------------------------------------- the sampling loop

_TOY_RNG = np.random.default_rng(8)
_TOY_EMBEDDING, _TOY_RECURRENT, _TOY_HEAD = (_TOY_RNG.normal(size=(5, 4)), _TOY_RNG.normal(size=(4, 4)) * 0.9,
                                             _TOY_RNG.normal(size=(4, 5)) * 2.0)


def _toy_step(index, state):
    """A tiny character model for the check: (index, state (4,)) -> (logits (5,), new state (4,))."""
    new_state = np.tanh(state @ _TOY_RECURRENT + _TOY_EMBEDDING[index])
    return new_state @ _TOY_HEAD, new_state


class _SeededSampler:
    """sample(logits) -> int drawn from softmax(logits) with its own seeded generator (each copy restarts it)."""

    def __init__(self, seed):
        self.rng = np.random.default_rng(seed)

    def __call__(self, logits):
        return _sample_with_temperature(logits, 1.0, self.rng)


def _generate_variant(*, carry_state=True, new_scores=True, greedy=False):
    """A sampling loop with one mistake built in (the defaults give the right loop)."""
    def generate_indices(step, logits, state, length, sample):
        first_state, indices = state, []
        for _ in range(length):
            indices.append(int(np.argmax(logits)) if greedy else sample(logits))
            next_logits, next_state = step(indices[-1], state)
            logits = next_logits if new_scores else logits
            state = next_state if carry_state else first_state
        return indices
    return generate_indices


_GENERATE_MISTAKES = (
    Mistake("the hidden state is not carried forward: every step starts from the prompt's state again, so the "
            "model only ever remembers one character; hand each call of step the state the previous call returned",
            _generate_variant(carry_state=False)),
    Mistake("every index is drawn from the same scores, the ones after the prompt: draw each new index from the "
            "scores that the latest call of step returned",
            _generate_variant(new_scores=False)),
    Mistake("the indices are picked by argmax: always taking the most likely one ignores the temperature and "
            "makes the text loop; let sample draw each index",
            _generate_variant(greedy=True)),
)


@recognising(*_GENERATE_MISTAKES)
def check_generate_indices(generate_indices) -> Verdict:
    """``generate_indices(step, logits (V,), state, length, sample)`` -> a list of ``length`` int indices.

    ``step(index, state) -> (logits, new_state)`` is one step of a model, ``sample(logits) -> int`` draws one
    index. Compared exactly with the reference on a tiny fixed model with seeded samplers.
    """
    cases = []
    for seed, length in [(0, 1), (1, 6), (2, 15)]:
        first_logits, first_state = _toy_step(seed, np.zeros(4))
        args = (_toy_step, first_logits, first_state, length, _SeededSampler(seed))
        cases.append((args, np.array(_generate_indices(*copy.deepcopy(args)), dtype=np.int64)))
    return run_check("generate_indices", generate_indices, cases, tolerance=0, describe_inputs=False,
                     mistakes=_GENERATE_MISTAKES,
                     start="Start with an empty list of indices and a loop that runs length times: each pass draws "
                           "one index, keeps it, and lets the model read it.",
                     hint="Hint: trace two passes on paper: which scores is the second index drawn from, and "
                          "which state produced those scores?")
