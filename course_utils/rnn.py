"""Recurrent networks (notebook 05): the RNN step, the LSTM cell, a digit read row by row, and a char-LSTM.

Reference versions of what the learner builds in the notebook, and the models later notebooks reuse::

    from course_utils import data, rnn
    splits = data.load_mnist()
    train_data = data.to_tensors(splits.train_images, splits.train_labels, device)
    model, history = rnn.train_lstm(train_data)          # the notebook's final LSTM, about 97-98 %

Shapes: an image batch (N, 1, 28, 28) is read as a sequence of 28 rows of
28 pixels, i.e. a (N, 28, 28) tensor of (batch, time step, features).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
from torch import nn

from course_utils import data, train

NUM_ROWS = 28
ROW_PIXELS = 28
NUM_CLASSES = 10

# The final recipe of notebook 05 for the row-by-row LSTM.
LSTM_HIDDEN_SIZE = 128
LSTM_EPOCHS = 15
LSTM_BATCH_SIZE = 128
LSTM_MAX_LEARNING_RATE = 8e-3
LSTM_CLIP_NORM = 1.0
LSTM_MAX_SHIFT = 2


# --- the recurrence in numpy ---------------------------------------------------------------------

def ff_step(x: np.ndarray, W1: np.ndarray, W2: np.ndarray) -> np.ndarray:
    """One feed-forward step, no memory: x (D,) or (N, D) -> y (..., K), with h = tanh(x·W1), y = h·W2."""
    hidden = np.tanh(x @ W1)
    return hidden @ W2


def rnn_step(h: np.ndarray, x: np.ndarray, W1: np.ndarray, W2: np.ndarray, W3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """One step of a vanilla RNN: ``h_new = tanh(h·W1 + x·W2)``, ``y = h_new·W3``.

    h (H,) or (N, H) previous hidden state; x (D,) or (N, D) input now;
    W1 (H, H), W2 (D, H), W3 (H, K). Returns ``(h_new, y)`` with shapes (…, H) and (…, K).
    """
    if W1.shape[0] != W1.shape[1]:
        raise ValueError(f"W1 maps the hidden state to itself and must be square, got {W1.shape}")
    if np.shape(h)[-1] != W1.shape[0] or np.shape(x)[-1] != W2.shape[0]:
        raise ValueError(f"shapes do not fit: h {np.shape(h)}, x {np.shape(x)}, W1 {W1.shape}, W2 {W2.shape}")
    h_new = np.tanh(h @ W1 + x @ W2)
    return h_new, h_new @ W3


def rnn_forward(inputs: np.ndarray, h0: np.ndarray, W1: np.ndarray, W2: np.ndarray, W3: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Unroll the RNN over a whole sequence: inputs (T, D), h0 (H,) -> hidden states (T, H), outputs (T, K).

    Row t of the results is what ``rnn_step`` gives after reading inputs[t], the
    same three weight matrices being used at every step (the weights are tied in time).
    """
    inputs = np.asarray(inputs, dtype=np.float64)
    if inputs.ndim != 2:
        raise ValueError(f"inputs must be a sequence of shape (T, D), got {inputs.shape}")
    h = np.asarray(h0, dtype=np.float64)
    hidden_states, outputs = [], []
    for x in inputs:
        h, y = rnn_step(h, x, W1, W2, W3)
        hidden_states.append(h)
        outputs.append(y)
    return np.array(hidden_states), np.array(outputs)


class NumpyRNN:
    """A vanilla RNN that keeps its hidden state between calls to ``step``.

    >>> rnn = NumpyRNN(input_size=3, hidden_size=4, output_size=2, seed=0)
    >>> y = rnn.step(np.ones(3))     # the hidden state rnn.h is updated in place
    """

    def __init__(self, input_size: int, hidden_size: int, output_size: int, *, seed: int = 0, scale: float = 0.5):
        rng = np.random.default_rng(seed)
        self.W1 = rng.normal(0, scale / np.sqrt(hidden_size), (hidden_size, hidden_size))
        self.W2 = rng.normal(0, scale / np.sqrt(input_size), (input_size, hidden_size))
        self.W3 = rng.normal(0, scale / np.sqrt(hidden_size), (hidden_size, output_size))
        self.h = np.zeros(hidden_size)

    def reset(self) -> None:
        """Forget everything read so far: hidden state back to zeros."""
        self.h = np.zeros_like(self.h)

    def step(self, x: np.ndarray) -> np.ndarray:
        """Read one input x (input_size,) and return the output y (output_size,)."""
        self.h, y = rnn_step(self.h, np.asarray(x, dtype=np.float64), self.W1, self.W2, self.W3)
        return y


# --- the LSTM cell from its equations --------------------------------------------------------------

def lstm_cell_step(x: torch.Tensor, h: torch.Tensor, c: torch.Tensor,
                   W_x: torch.Tensor, W_h: torch.Tensor, b: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """One LSTM step, gates in PyTorch's order (input i, forget f, cell candidate g, output o).

    x (N, D), h and c (N, H); W_x (4H, D), W_h (4H, H), b (4H,): the stacked
    weights of ``torch.nn.LSTM`` (``weight_ih_l0``, ``weight_hh_l0``, and
    ``bias_ih_l0 + bias_hh_l0``). Returns ``(h_new, c_new)``, each (N, H)::

        i = σ(W_xi x + W_hi h + b_i)     f = σ(W_xf x + W_hf h + b_f)
        g = tanh(W_xc x + W_hc h + b_c)  o = σ(W_xo x + W_ho h + b_o)
        c_new = f * c + i * g            h_new = o * tanh(c_new)
    """
    hidden_size = h.shape[-1]
    if W_x.shape[0] != 4 * hidden_size or W_h.shape != (4 * hidden_size, hidden_size) or b.shape != (4 * hidden_size,):
        raise ValueError(f"expected W_x (4H, D), W_h (4H, H), b (4H,) with H={hidden_size}; "
                         f"got {tuple(W_x.shape)}, {tuple(W_h.shape)}, {tuple(b.shape)}")
    pre_activation = x @ W_x.T + h @ W_h.T + b
    i, f, g, o = pre_activation.chunk(4, dim=-1)
    i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
    c_new = f * c + i * g
    h_new = o * torch.tanh(c_new)
    return h_new, c_new


def lstm_by_hand(sequence: torch.Tensor, lstm: nn.LSTM) -> tuple[torch.Tensor, tuple[torch.Tensor, torch.Tensor]]:
    """Run a one-layer ``batch_first`` ``nn.LSTM`` step by step with ``lstm_cell_step``.

    sequence (N, T, D) -> (outputs (N, T, H), (h_T (1, N, H), c_T (1, N, H))), as ``lstm(sequence)`` returns.
    """
    if lstm.num_layers != 1 or lstm.bidirectional or not lstm.batch_first:
        raise ValueError("lstm_by_hand handles a one-layer, one-direction LSTM built with batch_first=True")
    W_x, W_h = lstm.weight_ih_l0, lstm.weight_hh_l0
    b = lstm.bias_ih_l0 + lstm.bias_hh_l0 if lstm.bias else torch.zeros(W_x.shape[0], dtype=W_x.dtype)
    h = sequence.new_zeros(len(sequence), lstm.hidden_size)
    c = sequence.new_zeros(len(sequence), lstm.hidden_size)
    outputs = []
    for t in range(sequence.shape[1]):
        h, c = lstm_cell_step(sequence[:, t], h, c, W_x, W_h, b)
        outputs.append(h)
    return torch.stack(outputs, dim=1), (h.unsqueeze(0), c.unsqueeze(0))


# --- gradient clipping --------------------------------------------------------------------------

class ClippedAdam(torch.optim.Adam):
    """Adam that first rescales the whole gradient to norm at most ``max_norm`` (gradient clipping).

    A drop-in optimizer for ``train.fit``; a learning-rate scheduler such as
    ``OneCycleLR`` works with it as with plain Adam.
    """

    def __init__(self, params, lr: float = 1e-3, *, max_norm: float = 1.0, **kwargs):
        if max_norm <= 0:
            raise ValueError(f"max_norm must be positive, got {max_norm}")
        super().__init__(params, lr=lr, **kwargs)
        self.max_norm = max_norm

    @torch.no_grad()
    def step(self, closure=None):
        parameters = [p for group in self.param_groups for p in group["params"] if p.grad is not None]
        nn.utils.clip_grad_norm_(parameters, self.max_norm)
        return super().step(closure)


# --- a digit read row by row -------------------------------------------------------------------------

def images_to_rows(images: torch.Tensor) -> torch.Tensor:
    """Images (N, 1, 28, 28) or (N, 28, 28) -> sequences (N, 28 time steps, 28 pixels)."""
    if images.dim() == 4 and images.shape[1] == 1:
        images = images[:, 0]
    if images.dim() != 3 or images.shape[1:] != (NUM_ROWS, ROW_PIXELS):
        raise ValueError(f"expected images of shape (N, 1, 28, 28) or (N, 28, 28), got {tuple(images.shape)}")
    return images


class RowClassifier(nn.Module):
    """Reads an image row by row with a recurrent layer and classifies it from the last hidden state.

    cell "rnn" (vanilla tanh RNN) or "lstm". Input (N, 1, 28, 28), output (N, 10) logits.
    """

    def __init__(self, cell: str = "lstm", hidden_size: int = LSTM_HIDDEN_SIZE):
        super().__init__()
        layers = {"rnn": nn.RNN, "lstm": nn.LSTM}
        if cell not in layers:
            raise ValueError(f"cell must be 'rnn' or 'lstm', got {cell!r}")
        self.cell = cell
        self.recurrent = layers[cell](ROW_PIXELS, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, NUM_CLASSES)

    def forward_all_steps(self, images: torch.Tensor) -> torch.Tensor:
        """Logits after each row: (N, 28, 10); entry [:, k-1] is the guess having read rows 1..k."""
        hidden_states, _ = self.recurrent(images_to_rows(images))
        return self.head(hidden_states)

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        hidden_states, _ = self.recurrent(images_to_rows(images))
        return self.head(hidden_states[:, -1])


class LSTMClassifier(RowClassifier):
    """The final model of notebook 05: a one-layer 128-unit LSTM over the 28 rows, then a linear layer."""

    def __init__(self, hidden_size: int = LSTM_HIDDEN_SIZE):
        super().__init__("lstm", hidden_size)


def train_row_classifier(model: nn.Module, train_data, *, val_data=None, num_epochs: int = LSTM_EPOCHS,
                         batch_size: int = LSTM_BATCH_SIZE, max_learning_rate: float = LSTM_MAX_LEARNING_RATE,
                         clip_norm: float = LSTM_CLIP_NORM, max_shift: int = LSTM_MAX_SHIFT, seed: int = 0,
                         live_plot: bool = False, progress: bool = False, title: str = "Training (live)") -> train.History:
    """The notebook's recipe through ``train.fit``: Adam with gradient clipping, a one-cycle learning rate,
    and training images shifted by up to ``max_shift`` pixels."""
    optimizer = ClippedAdam(model.parameters(), lr=max_learning_rate, max_norm=clip_norm)
    steps_per_epoch = -(-len(train_data[1]) // batch_size)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=max_learning_rate,
                                                    epochs=num_epochs, steps_per_epoch=steps_per_epoch)
    return train.fit(model, optimizer, nn.CrossEntropyLoss(), train_data, val_data=val_data,
                     num_epochs=num_epochs, batch_size=batch_size, seed=seed, scheduler=scheduler,
                     augment=data.RandomShift(max_shift, seed=seed) if max_shift else None, live_plot=live_plot, progress=progress, title=title)


def train_lstm(train_data, *, val_data=None, seed: int = 0, live_plot: bool = False,
               progress: bool = False) -> tuple[nn.Module, train.History]:
    """Build ``LSTMClassifier()`` on the device of ``train_data`` and train it with the notebook's final recipe.

    train_data (images (N, 1, 28, 28) normalized, labels (N,)) as from ``data.to_tensors``.
    Returns ``(model, history)``; about 97-98 % test accuracy on the bundled split.
    """
    images, _ = train._check_data("train_data", train_data)
    torch.manual_seed(seed)
    model = LSTMClassifier().to(images.device)
    history = train_row_classifier(model, train_data, val_data=val_data, seed=seed,
                                   live_plot=live_plot, progress=progress, title="LSTM on MNIST rows (live)")
    return model, history


@torch.no_grad()
def accuracy_by_rows_read(model: RowClassifier, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 1000) -> np.ndarray:
    """Accuracy (fraction) of ``model`` when it has read only rows 1..k, for k = 1..28: array (28,)."""
    model.eval()
    correct = torch.zeros(NUM_ROWS, dtype=torch.int64, device=labels.device)
    for start in range(0, len(images), batch_size):
        logits = model.forward_all_steps(images[start : start + batch_size])
        correct += (logits.argmax(dim=-1) == labels[start : start + batch_size, None]).sum(dim=0)
    return (correct.float() / len(labels)).cpu().numpy()


# --- generating text -------------------------------------------------------------------------------

def course_text(repository_root: str | Path | None = None) -> str:
    """The prose the course ships: markdown cells of notebooks/*.ipynb, then README.md and CONTRIBUTING.md.

    Read at run time with ``json``; code cells and outputs are left out.
    """
    root = Path(repository_root) if repository_root else Path(__file__).resolve().parents[1]
    pieces = []
    for path in sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb")):
        try:
            notebook = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            continue  # a notebook being written by someone else: skip it
        for cell in notebook.get("cells", []):
            if cell.get("cell_type") == "markdown":
                source = cell.get("source", "")
                pieces.append("".join(source) if isinstance(source, list) else source)
    for name in ("README.md", "CONTRIBUTING.md"):
        if (root / name).is_file():
            pieces.append((root / name).read_text(encoding="utf-8"))
    text = "\n\n".join(piece.strip() for piece in pieces if piece.strip())
    if not text:
        raise FileNotFoundError(f"no notebooks or README.md under {root}: pass the course's root folder")
    return text


class Vocabulary:
    """The characters of a text, each with an index: ``encode`` text -> int64 tensor, ``decode`` back."""

    def __init__(self, text: str):
        if not text:
            raise ValueError("cannot build a vocabulary from an empty text")
        self.characters = sorted(set(text))
        self.index = {character: position for position, character in enumerate(self.characters)}

    def __len__(self) -> int:
        return len(self.characters)

    def encode(self, text: str) -> torch.Tensor:
        unknown = sorted(set(text) - set(self.index))
        if unknown:
            raise ValueError(f"characters not in the vocabulary: {unknown[:10]}")
        return torch.tensor([self.index[character] for character in text], dtype=torch.int64)

    def decode(self, indices) -> str:
        return "".join(self.characters[int(i)] for i in indices)


class CharLSTM(nn.Module):
    """Character-level language model: embedding -> LSTM -> scores for the next character.

    Input (N, T) character indices; output (N, T, vocabulary) logits and the new (h, c) state.
    """

    def __init__(self, vocabulary_size: int, embedding_size: int = 32, hidden_size: int = 256):
        super().__init__()
        self.embedding = nn.Embedding(vocabulary_size, embedding_size)
        self.lstm = nn.LSTM(embedding_size, hidden_size, batch_first=True)
        self.head = nn.Linear(hidden_size, vocabulary_size)

    def forward(self, indices: torch.Tensor, state=None):
        hidden_states, state = self.lstm(self.embedding(indices), state)
        return self.head(hidden_states), state


def probabilities_with_temperature(logits, temperature: float) -> np.ndarray:
    """softmax(logits / temperature) as float64: (V,) scores -> (V,) probabilities summing to 1.

    Temperature below 1 sharpens the distribution towards the top choice, above 1 flattens it.
    """
    if temperature <= 0:
        raise ValueError(f"temperature must be positive, got {temperature}")
    scaled = np.asarray(logits.detach().cpu() if torch.is_tensor(logits) else logits, dtype=np.float64) / temperature
    scaled = scaled - scaled.max(axis=-1, keepdims=True)   # for numerical safety; softmax is unchanged
    weights = np.exp(scaled)
    return weights / weights.sum(axis=-1, keepdims=True)


def sample_with_temperature(logits, temperature: float, rng: np.random.Generator) -> int:
    """Draw one index from softmax(logits / temperature) with ``rng.choice``."""
    probabilities = probabilities_with_temperature(logits, temperature)
    return int(rng.choice(len(probabilities), p=probabilities))


@torch.no_grad()
def generate(model: CharLSTM, vocabulary: Vocabulary, prompt: str, *, length: int = 200,
             temperature: float = 1.0, seed: int = 0) -> str:
    """Continue ``prompt`` by ``length`` characters, sampling each from the model at ``temperature``."""
    if not prompt:
        raise ValueError("give a prompt of at least one character")
    model.eval()
    device = next(model.parameters()).device
    rng = np.random.default_rng(seed)
    logits, state = model(vocabulary.encode(prompt).to(device)[None])
    produced = []
    for _ in range(length):
        index = sample_with_temperature(logits[0, -1], temperature, rng)
        produced.append(index)
        logits, state = model(torch.tensor([[index]], device=device), state)
    return prompt + vocabulary.decode(produced)
