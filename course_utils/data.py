"""MNIST, offline by default, and fast mini-batches from tensors.

The course ships 10,000 real MNIST digits in ``data/mnist_10k.npz`` (8,000
training and 2,000 test images), so it never needs the internet. The full
60,000 + 10,000 MNIST is an opt-in::

    data.load_mnist()                          # bundled 8k + 2k, under a second
    data.load_mnist("full", download=True)     # full MNIST through torchvision

Images are ``uint8`` arrays of shape (N, 28, 28) with values 0..255 (0 is
black background, 255 the darkest ink), labels ``uint8`` arrays of shape (N,)
with values 0..9.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import re
import socket
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import numpy as np
import torch

BUNDLED_FILE = "mnist_10k.npz"
BUNDLED_SHA256 = "6fb8555b04f93d4550a3427f4c65209eafbaa428cf35c9ba2f005899f5b60109"
BUNDLED_BYTES = 1_650_882
BUNDLED_ARRAYS = ("train_images", "train_labels", "test_images", "test_labels")
DATA_DIR_VARIABLE = "COURSE_DATA_DIR"

# Mean and standard deviation of a pixel scaled to 0..1: the classic figures of
# the full 60k training set (the bundled 8k training images give 0.1307 and 0.3082).
PIXEL_MEAN = 0.1307
PIXEL_STD = 0.3081
NUM_CLASSES = 10
IMAGE_SIDE = 28


class DataError(RuntimeError):
    """A data file is missing, damaged or cannot be fetched. The message says what to do."""


@dataclass(frozen=True)
class MnistSplits:
    """Training and test images (N, 28, 28) uint8 with their labels (N,) uint8."""

    train_images: np.ndarray
    train_labels: np.ndarray
    test_images: np.ndarray
    test_labels: np.ndarray
    source: str

    def __repr__(self) -> str:
        return (
            f"MnistSplits(source={self.source!r}, train={len(self.train_labels):,} images, "
            f"test={len(self.test_labels):,} images, image shape {self.train_images.shape[1:]}, "
            f"dtype {self.train_images.dtype})"
        )


def data_dir() -> Path:
    """The folder holding the bundled data, found by one rule, first match wins:

    1. ``$COURSE_DATA_DIR``, when set (to the ``data/`` folder of a clone of the course);
    2. ``data/`` beside the package: a clone of the course, installed editable (``make lab``) or not installed;
    3. ``data/`` in the current folder or a folder above it holding the bundled digits: the package installed
       non-editable (``pip install .``) and the notebooks run from inside a clone.
    Raises ``DataError`` naming ``COURSE_DATA_DIR`` when none of them applies.
    """
    override = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if override:
        return Path(override).expanduser()
    beside = Path(__file__).resolve().parents[1] / "data"
    if beside.is_dir():
        return beside
    here = Path.cwd().resolve()
    for folder in (here, *here.parents):
        if (folder / "data" / BUNDLED_FILE).is_file():
            return folder / "data"
    raise DataError(f"the course's data folder was not found: course_utils is installed in {beside.parent} without it, "
                    f"and neither {here} nor a folder above it holds data/{BUNDLED_FILE}. Set {DATA_DIR_VARIABLE} to the "
                    f"data/ folder of a clone of the course (for example {DATA_DIR_VARIABLE}=/path/to/course/data), "
                    "or run the notebooks from inside the clone.")


def course_root() -> Path:
    """The course's own folder (notebooks/, README.md, deploy/, scripts/): the folder that holds ``data_dir()``."""
    return data_dir().parent


def sha256_of(path: Path) -> str:
    """Hex SHA-256 digest of a file."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verify_bundled(path: Path, expected_bytes: int = BUNDLED_BYTES, expected_sha256: str = BUNDLED_SHA256) -> None:
    """Refuse a missing, truncated or modified bundled file with a DataError that says how to restore it."""
    fix = "restore it with `git checkout -- data/` (or clone the course again)"
    override = os.environ.get(DATA_DIR_VARIABLE, "").strip()
    if override and Path(override).resolve() == path.parent.resolve():
        fix = (f"{DATA_DIR_VARIABLE}={override!r} points there: point it at a folder holding a good {path.name} "
               f"(the course's data/ folder), or unset it to use the course's own copy")
    if path.parent.is_file():
        raise DataError(f"{path.parent} is a file, not a folder holding {path.name}: {fix}.")
    if not path.is_file():
        raise DataError(f"{path} is missing: {fix}.")
    size = path.stat().st_size
    if size != expected_bytes:
        raise DataError(f"{path} is truncated or incomplete ({size:,} of {expected_bytes:,} bytes): {fix}.")
    actual = sha256_of(path)
    if actual != expected_sha256:
        raise DataError(f"{path} has been modified (SHA-256 {actual[:12]}…, expected {expected_sha256[:12]}…): {fix}.")


def _load_bundled(folder: Path | None) -> MnistSplits:
    path = Path(folder or data_dir()) / BUNDLED_FILE
    _verify_bundled(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {name: archive[name] for name in BUNDLED_ARRAYS}
    except (KeyError, ValueError, OSError, zipfile.BadZipFile) as error:
        raise DataError(f"{path} cannot be read ({error}): restore it with `git checkout -- data/`"
                        f"{f' or check {DATA_DIR_VARIABLE}' if os.environ.get(DATA_DIR_VARIABLE) else ''}.") from error
    return MnistSplits(**arrays, source="bundled")


IDX_FILES = {"train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
             "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")}
_IDX_MAGIC = {"images": 0x00000803, "labels": 0x00000801}   # unsigned bytes; 3 or 1 dimensions
_MAX_IDX_ITEMS = 1_000_000                                  # MNIST has 60,000; anything near this is not MNIST


def _idx_fix(root: Path) -> str:
    return (f"replace it with a good copy (delete {root / 'MNIST'} and call load_mnist('full', download=True) when "
            f"online, or copy the original IDX files into {root / 'MNIST' / 'raw'}), or use the bundled set: load_mnist()")


def read_idx(path: Path, kind: str, root: Path) -> np.ndarray:
    """Read one MNIST IDX file, ``kind`` "images" (N, 28, 28) or "labels" (N,), checking everything it claims.

    The magic number, the dimensions (28 × 28), the item count (at most ``_MAX_IDX_ITEMS``), that the
    file holds exactly that many bytes, and for labels that every label is 0..9. ``DataError`` names the
    file, what is wrong with it and how to get a good one.
    """
    dimensions = 3 if kind == "images" else 1
    header_bytes = 4 * (1 + dimensions)
    with open(path, "rb") as handle:
        header = handle.read(header_bytes)
        if len(header) < header_bytes:
            raise DataError(f"{path} is empty or truncated ({len(header)} bytes, no complete IDX header): {_idx_fix(root)}.")
        magic, *shape = np.frombuffer(header, dtype=">u4").tolist()
        if magic != _IDX_MAGIC[kind]:
            raise DataError(f"{path} is not an MNIST {kind} file (magic number {magic:#010x}, expected "
                            f"{_IDX_MAGIC[kind]:#010x}): {_idx_fix(root)}.")
        if shape[0] > _MAX_IDX_ITEMS or shape[1:] not in ([], [IMAGE_SIDE, IMAGE_SIDE]):
            raise DataError(f"{path} claims {shape[0]:,} {kind} of shape {tuple(shape[1:])}; MNIST has at most "
                            f"70,000 of shape {(IMAGE_SIDE, IMAGE_SIDE) if dimensions == 3 else ()}: {_idx_fix(root)}.")
        expected = int(np.prod(shape))
        values = np.frombuffer(handle.read(expected + 1), dtype=np.uint8)
    if len(values) != expected:
        raise DataError(f"{path} holds {len(values):,} bytes of data where its header announces {expected:,}"
                        f"{' (or more)' if len(values) > expected else ''}: {_idx_fix(root)}.")
    if kind == "labels" and len(values) and values.max() > 9:
        raise DataError(f"{path} holds the label {int(values.max())}; MNIST labels are 0..9: {_idx_fix(root)}.")
    return values.reshape(shape)


def _read_split(root: Path, split: str) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels of one split of full MNIST from ``root/MNIST/raw``, checked against each other."""
    raw = root / "MNIST" / "raw"
    image_path, label_path = (raw / name for name in IDX_FILES[split])
    missing = [path.name for path in (image_path, label_path) if not path.is_file()]
    if missing:
        raise DataError(f"full MNIST not found under {raw} (missing {', '.join(missing)}): call "
                        "load_mnist('full', download=True) when online, or copy the four IDX files there; "
                        "or use the bundled set with load_mnist().")
    images, labels = read_idx(image_path, "images", root), read_idx(label_path, "labels", root)
    if len(images) != len(labels):
        raise DataError(f"{image_path.name} holds {len(images):,} images but {label_path.name} {len(labels):,} labels; "
                        f"the two files of a split must match: {_idx_fix(root)}.")
    return images, labels


def _download_full(root: Path) -> None:
    """Fetch the full MNIST IDX files into ``root/MNIST/raw`` through torchvision (needs the internet once)."""
    from torchvision.datasets import MNIST

    previous_timeout = socket.getdefaulttimeout()
    socket.setdefaulttimeout(10)  # offline, fail within seconds instead of hanging
    try:
        for train in (True, False):
            MNIST(str(root), train=train, download=True)
    except Exception as error:  # torchvision raises several kinds when every mirror fails
        raise DataError(
            f"could not download full MNIST into {root} ({type(error).__name__}: {error}); "
            f"you seem to be offline: copy the IDX files into {root / 'MNIST' / 'raw'} or use load_mnist()."
        ) from error
    finally:
        socket.setdefaulttimeout(previous_timeout)


def _load_full(root: Path | None, download: bool) -> MnistSplits:
    root = Path(root or data_dir() / "full")
    if download and not all((root / "MNIST" / "raw" / name).is_file() for names in IDX_FILES.values() for name in names):
        _download_full(root)
    train_images, train_labels = _read_split(root, "train")
    test_images, test_labels = _read_split(root, "test")
    return MnistSplits(train_images, train_labels, test_images, test_labels, source="full")


def load_mnist(source: str = "bundled", *, root: str | Path | None = None, download: bool = False) -> MnistSplits:
    """Load MNIST as numpy arrays.

    source="bundled" (default): the 8,000 + 2,000 digits shipped in ``data/``,
    checked against their SHA-256; works offline, takes well under a second.
    source="full": the 60,000 + 10,000 digits through torchvision, read from
    ``root/MNIST/raw`` (default ``data/full``); with ``download=True`` they are
    fetched first if missing (needs the internet once).

    Raises ``DataError`` with a one-line fix when a file is missing or damaged.
    """
    if source == "bundled":
        return _load_bundled(Path(root) if root else None)
    if source == "full":
        return _load_full(Path(root) if root else None, download)
    raise ValueError(f"source must be 'bundled' or 'full', got {source!r}")


SPAM_FILE = "spam_assassin.json.gz"
SPAM_SHA256 = "2d373efc928e3e1f8ce8b1a518b5ef732226311db87bfedc23021b7ec66a9867"
SPAM_BYTES = 2_612_807
SPAM_GROUPS = ("easy-ham-1", "easy-ham-2", "hard-ham-1", "spam-1", "spam-2")
_MESSAGE_FIELDS = {"group": str, "id": str, "subject": str, "body": str, "html": bool, "split": str}


@dataclass(frozen=True)
class Mails:
    """N mail messages: ``texts`` (subject, blank line, body), ``labels`` (N,) uint8 with 1 = spam, 0 = ham,
    ``groups`` (N,) str (one of ``SPAM_GROUPS``), ``html`` (N,) bool (the body was HTML turned into text)."""

    texts: list
    labels: np.ndarray
    groups: np.ndarray
    html: np.ndarray

    def __len__(self) -> int:
        return len(self.texts)

    def __repr__(self) -> str:
        return f"Mails({len(self):,} messages, {int(self.labels.sum()):,} spam)"


@dataclass(frozen=True)
class SpamSplits:
    """The bundled SpamAssassin messages, split once by group into ``train`` and ``test`` ``Mails``."""

    train: Mails
    test: Mails
    source: str

    def __repr__(self) -> str:
        return f"SpamSplits(train={self.train!r}, test={self.test!r})"


def _mails(messages: list[dict]) -> Mails:
    groups = np.array([message["group"] for message in messages], dtype=str)
    return Mails(texts=[f"{message['subject']}\n\n{message['body']}" for message in messages],
                 labels=np.char.startswith(groups, "spam").astype(np.uint8), groups=groups,
                 html=np.array([message["html"] for message in messages], dtype=bool))


def _check_messages(document, path: Path) -> list[dict]:
    fix = "restore it with `git checkout -- data/` or rebuild it with scripts/build_spam_subset.py"
    messages = document.get("messages") if isinstance(document, dict) else None
    if not isinstance(messages, list) or not messages:
        raise DataError(f"{path} holds no list of messages: {fix}.")
    for number, message in enumerate(messages):
        problem = None
        if not isinstance(message, dict):
            problem = f"is a {type(message).__name__}, not a message"
        else:
            for field, kind in _MESSAGE_FIELDS.items():
                if not isinstance(message.get(field), kind):
                    problem = f"has no {kind.__name__} field {field!r}"
                    break
            else:
                if message["group"] not in SPAM_GROUPS or message["split"] not in ("train", "test"):
                    problem = f"has group {message['group']!r} and split {message['split']!r}"
        if problem:
            raise DataError(f"{path}: message {number} {problem}: {fix}.")
    return messages


def load_spam(*, root: str | Path | None = None) -> SpamSplits:
    """The SpamAssassin mail bundled in ``data/spam_assassin.json.gz``: 5,895 messages, 4,422 train and 1,473 test.

    Checked against its size and SHA-256 on every load, then read with ``json`` (no code runs); works offline in
    about a second. Each message keeps its Subject and its readable body (cut to 1,500 characters); see
    ``data/README.md`` for what was kept and why. Raises ``DataError`` with a one-line fix when the file is missing,
    damaged or malformed.
    """
    path = Path(root or data_dir()) / SPAM_FILE
    _verify_bundled(path, SPAM_BYTES, SPAM_SHA256)
    try:
        with gzip.open(path, "rt", encoding="utf-8") as handle:
            document = json.load(handle)
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise DataError(f"{path} cannot be read ({error}): restore it with `git checkout -- data/`.") from error
    messages = _check_messages(document, path)
    return SpamSplits(train=_mails([message for message in messages if message["split"] == "train"]),
                      test=_mails([message for message in messages if message["split"] == "test"]),
                      source=str(document.get("source", "")))


def train_val_split(images: np.ndarray, labels: np.ndarray, val_fraction: float = 0.1, seed: int = 0):
    """Split off a stratified validation set: each digit keeps its share in both parts.

    Returns ``(train_images, train_labels, val_images, val_labels)``. Tune on
    the validation part; keep the test split for the final, single check.
    """
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    if not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be between 0 and 1, got {val_fraction}")
    rng = np.random.default_rng(seed)
    val_index = []
    for label in np.unique(labels):
        members = rng.permutation(np.flatnonzero(labels == label))
        val_index.append(members[: int(round(len(members) * val_fraction))])
    val_mask = np.zeros(len(labels), dtype=bool)
    val_mask[np.concatenate(val_index)] = True
    return images[~val_mask], labels[~val_mask], images[val_mask], labels[val_mask]


def to_tensors(images: np.ndarray, labels: np.ndarray, device: torch.device | str = "cpu", *, normalize: bool = True, flatten: bool = False):
    """Turn uint8 images and labels into float32 and int64 tensors on ``device``.

    Pixels are scaled to 0..1, then, with ``normalize=True``, shifted and
    scaled to mean 0 and standard deviation 1 (using ``PIXEL_MEAN`` and
    ``PIXEL_STD``). Images come back as (N, 1, 28, 28), or (N, 784) with
    ``flatten=True``; labels as (N,).
    """
    images = np.asarray(images)
    if images.ndim != 3 or images.shape[1:] != (28, 28):
        raise ValueError(f"images must have shape (N, 28, 28), got {images.shape}")
    if images.dtype != np.uint8:
        raise ValueError(f"images must be uint8 (0..255), got {images.dtype}; pass the arrays from load_mnist()")
    if len(images) != len(labels):
        raise ValueError(f"{len(images)} images but {len(labels)} labels")
    x = torch.from_numpy(images).to(device=device, dtype=torch.float32).div_(255.0)
    if normalize:
        x = x.sub_(PIXEL_MEAN).div_(PIXEL_STD)
    x = x.reshape(len(x), -1) if flatten else x.unsqueeze(1)
    y = torch.as_tensor(np.asarray(labels), dtype=torch.int64, device=device)
    return x, y


class Batches:
    """Mini-batches drawn from tensors already on the device.

    Each pass (epoch) reshuffles with its own seeded ``torch.Generator``, so
    the order is the same on every run but differs from epoch to epoch. No
    per-image Python work: indexing a tensor is the whole cost.

    >>> for x_batch, y_batch in Batches(x, y, batch_size=32): ...
    """

    def __init__(self, x: torch.Tensor, y: torch.Tensor, batch_size: int = 64, *, shuffle: bool = True, seed: int = 0):
        if len(x) != len(y):
            raise ValueError(f"x has {len(x)} rows but y has {len(y)}")
        if not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        self.x, self.y, self.batch_size, self.shuffle = x, y, batch_size, shuffle
        self.generator = torch.Generator()
        self.generator.manual_seed(seed)

    def __len__(self) -> int:
        return (len(self.x) + self.batch_size - 1) // self.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        if self.shuffle:
            order = torch.randperm(len(self.x), generator=self.generator).to(self.x.device)
            x, y = self.x[order], self.y[order]
        else:
            x, y = self.x, self.y
        for start in range(0, len(x), self.batch_size):
            yield x[start : start + self.batch_size], y[start : start + self.batch_size]


# A blank (0) pixel after normalization: what shifted-in borders are filled with.
BACKGROUND = (0.0 - PIXEL_MEAN) / PIXEL_STD


def shift_images(images: torch.Tensor, down: int = 0, right: int = 0, *, fill: float = BACKGROUND) -> torch.Tensor:
    """Move every image (N, 1, H, W) ``down`` rows and ``right`` columns (negative: up or left).

    Pixels that come in from outside are ``fill`` (normalized blank paper by default).
    """
    if images.ndim != 4:
        raise ValueError(f"images must have shape (N, 1, H, W), got {tuple(images.shape)}")
    height, width = images.shape[-2:]
    if abs(down) >= height or abs(right) >= width:
        raise ValueError(f"shift ({down}, {right}) is as large as the image {height}×{width}")
    shifted = torch.full_like(images, fill)
    source_rows = slice(max(0, -down), height - max(0, down))
    target_rows = slice(max(0, down), height - max(0, -down))
    source_columns = slice(max(0, -right), width - max(0, right))
    target_columns = slice(max(0, right), width - max(0, -right))
    shifted[..., target_rows, target_columns] = images[..., source_rows, source_columns]
    return shifted


class RandomShift:
    """Augmentation: move each image of a batch by its own random offset of -max_shift..max_shift pixels.

    Pass an instance as ``train.fit(..., augment=RandomShift(2))``. It takes
    (N, 1, 28, 28) or flattened (N, 784) batches and returns the same shape. A
    digit moved by a pixel or two is still the same digit, so training on
    moved copies teaches a model not to care exactly where the ink sits.
    Offsets are drawn on the batch's own device from a seeded generator: runs
    repeat, and a GPU never waits for the CPU.
    """

    def __init__(self, max_shift: int = 2, *, seed: int = 0, fill: float = BACKGROUND):
        if not isinstance(max_shift, int) or max_shift < 0:
            raise ValueError(f"max_shift must be a non-negative integer, got {max_shift!r}")
        self.max_shift, self.seed, self.fill = max_shift, seed, fill
        self.generator: torch.Generator | None = None

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        flat = images.dim() == 2
        if flat and images.shape[1] != 28 * 28:
            raise ValueError(f"flat images must have 784 pixels, got shape {tuple(images.shape)}")
        grid = images.reshape(len(images), 1, 28, 28) if flat else images
        if grid.dim() != 4:
            raise ValueError(f"images must have shape (N, 1, H, W) or (N, 784), got {tuple(images.shape)}")
        if self.max_shift == 0 or len(grid) == 0:
            return images
        if self.generator is None or self.generator.device != grid.device:
            self.generator = torch.Generator(device=grid.device)
            self.generator.manual_seed(self.seed)
        count, _, height, width = grid.shape
        pad = self.max_shift
        padded = torch.nn.functional.pad(grid, (pad, pad, pad, pad), value=self.fill)
        offsets = torch.randint(0, 2 * pad + 1, (2, count), generator=self.generator, device=grid.device)
        rows = offsets[0][:, None] + torch.arange(height, device=grid.device)      # (N, H)
        columns = offsets[1][:, None] + torch.arange(width, device=grid.device)    # (N, W)
        batch_index = torch.arange(count, device=grid.device)[:, None, None]
        shifted = padded[batch_index, 0, rows[:, :, None], columns[:, None, :]].unsqueeze(1)
        return shifted.reshape(images.shape)


GENERATED_PARAGRAPH = re.compile(r"<!-- ([\w-]+):start -->.*?<!-- \1:end -->\n?", re.S)


def course_text(repository_root: str | Path | None = None) -> str:
    """The prose the course ships: markdown cells of notebooks/*.ipynb, then README.md and CONTRIBUTING.md.

    Read at run time with ``json``; code cells and outputs are left out, and so are the paragraphs a script writes
    between ``<!-- NAME:start -->`` and ``<!-- NAME:end -->`` (README's Colab links, from scripts/colab.py), so that
    publishing the course's address does not change the text notebook 05 trains on.
    """
    root = Path(repository_root) if repository_root else course_root()
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
            pieces.append(GENERATED_PARAGRAPH.sub("", (root / name).read_text(encoding="utf-8")))
    text = "\n\n".join(piece.strip() for piece in pieces if piece.strip())
    if not text:
        where = f" ({DATA_DIR_VARIABLE} is {os.environ[DATA_DIR_VARIABLE]!r})" if os.environ.get(DATA_DIR_VARIABLE, "").strip() else ""
        raise FileNotFoundError(f"no notebooks or README.md under {root}{where}: pass the course's root folder, or set "
                                f"{DATA_DIR_VARIABLE} to the data/ folder of a clone of the course (its parent holds them)")
    return text
