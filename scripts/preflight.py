"""Is this laptop ready for the workshop? The pre-flight check, in under a minute (``make check``).

Checks, in order: the Python version, the course's packages, the bundled digits (their SHA-256), free
memory and disk, the device the notebooks will use, and one timed epoch of notebook 04's CNN, from
which it predicts how long notebook 04 will take here. It never runs or reads the notebooks, so a
laptop where they were edited passes just the same.

Every line says ``ok``, ``warn`` (it works, but read this) or ``FAIL`` (fix this first); the last line
is ``READY`` or ``NOT READY:`` and the first thing to fix. Exit status 0 when ready, 1 otherwise::

    make check                                    # or: .venv/bin/python scripts/preflight.py
    .venv/bin/python scripts/preflight.py --quick # a quarter of an epoch: a rougher prediction, faster
"""

from __future__ import annotations

import argparse
import importlib.metadata
import os
import shutil
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
MINIMUM_PYTHON = (3, 10)
PACKAGES = ("numpy", "matplotlib", "jupyterlab", "ipywidgets", "torch", "torchvision", "tqdm", "scikit-learn")
MINIMUM_FREE_MEMORY_GB = 2.0    # notebook 04's kernel peaks near 1.5 GB, JupyterLab and a browser need the rest
MINIMUM_FREE_DISK_GB = 1.0      # executed notebooks, saved models, the optional full MNIST (0.1 GB)
# Measured on the reference machine (2-core CPU, torch 2.14.1; `make bench-notebooks` and this script):
# one epoch of notebook 04's CNN on its 7,200 training digits, and the whole of notebook 04.
REFERENCE_EPOCH_SECONDS = 2.6
REFERENCE_NOTEBOOK_04_SECONDS = 70.0
SLOW_NOTEBOOK_04_SECONDS = 600.0  # beyond ten minutes, the workshop's pace will not hold


@dataclass
class Finding:
    """One line of the report: what was checked, what was found, and what to do if it is not ok."""

    name: str
    status: str          # "ok", "warn" or "FAIL"
    detail: str
    fix: str = ""

    def line(self) -> str:
        return f"{self.status:>4}  {self.name:<10} {self.detail}" + (f"\n{'':16}-> {self.fix}" if self.fix else "")


def check_python(version_info=sys.version_info) -> Finding:
    version = ".".join(map(str, version_info[:3]))
    if tuple(version_info[:2]) < MINIMUM_PYTHON:
        return Finding("python", "FAIL", f"{version} at {sys.executable}",
                       "the course needs Python 3.10 or newer: install one, then `make clean` and "
                       "`make lab PYTHON=python3.12` (or whichever you installed)")
    return Finding("python", "ok", f"{version} at {sys.executable}")


def check_packages(packages=PACKAGES) -> Finding:
    found, missing = [], []
    for package in packages:
        try:
            found.append(f"{package} {importlib.metadata.version(package)}")
        except importlib.metadata.PackageNotFoundError:
            missing.append(package)
    if missing:
        return Finding("packages", "FAIL", f"missing: {', '.join(missing)}",
                       "run `make lab` (or `make clean` then `make lab` if it keeps failing)")
    return Finding("packages", "ok", ", ".join(found))


def check_data() -> Finding:
    try:
        from course_utils import data
        splits = data.load_mnist()          # checks the file's SHA-256 and every array's shape
        mail = data.load_spam()             # notebook 07's messages, checked the same way
    except Exception as error:              # a missing course_utils or a damaged file: say which
        return Finding("data", "FAIL", f"{type(error).__name__}: {error}",
                       "run `git checkout -- data/` (or clone the course again)")
    return Finding("data", "ok", f"{len(splits.train_labels):,} + {len(splits.test_labels):,} digits and "
                                 f"{len(mail.train):,} + {len(mail.test):,} mails, SHA-256s as expected")


def available_memory_bytes(meminfo: Path = Path("/proc/meminfo")) -> int | None:
    """Memory the system can give a new program without swapping (Linux: MemAvailable), or None if unknown."""
    try:
        for line in meminfo.read_text().splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    try:                                    # macOS and other Unixes: free physical pages (an underestimate)
        return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES")
    except (ValueError, OSError, AttributeError):
        return None


def check_memory(available: int | None, minimum_gb: float = MINIMUM_FREE_MEMORY_GB) -> Finding:
    if available is None:
        return Finding("memory", "warn", "could not measure free memory",
                       f"make sure about {minimum_gb:g} GB are free: close other programs")
    gigabytes = available / 1e9
    if gigabytes < minimum_gb:
        return Finding("memory", "FAIL", f"{gigabytes:.1f} GB free, {minimum_gb:g} GB needed",
                       "close other programs (browsers with many tabs first); in JupyterLab shut down each "
                       "notebook's kernel when you finish it")
    return Finding("memory", "ok", f"{gigabytes:.1f} GB free")


def check_disk(free_bytes: int, minimum_gb: float = MINIMUM_FREE_DISK_GB) -> Finding:
    gigabytes = free_bytes / 1e9
    if gigabytes < minimum_gb:
        return Finding("disk", "FAIL", f"{gigabytes:.1f} GB free here, {minimum_gb:g} GB needed", "free some disk space")
    return Finding("disk", "ok", f"{gigabytes:.1f} GB free")


def time_cnn_epoch(device, fraction: float = 1.0) -> float:
    """Seconds for one epoch (or ``fraction`` of one) of notebook 04's CNN and recipe, scaled to a whole epoch."""
    import torch
    from torch import nn

    from course_utils import data, models, train
    from course_utils import device as device_module

    splits = data.load_mnist()
    train_uint8, train_labels, _, _ = data.train_val_split(splits.train_images, splits.train_labels, 0.1, seed=0)
    count = max(models.CNN_RECIPE.batch_size, int(len(train_labels) * fraction))
    images, labels = data.to_tensors(train_uint8[:count], train_labels[:count], device)
    torch.manual_seed(0)
    model = models.CNN().to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=models.CNN_RECIPE.learning_rate)
    warm_up = data.Batches(images[:128], labels[:128], batch_size=64)
    train.train_epoch(model, optimizer, nn.CrossEntropyLoss(), warm_up)           # first calls are slow
    device_module.synchronize(device)
    started = time.perf_counter()
    batches = data.Batches(images, labels, batch_size=models.CNN_RECIPE.batch_size, seed=0)
    train.train_epoch(model, optimizer, nn.CrossEntropyLoss(), batches, augment=data.RandomShift(2))
    device_module.synchronize(device)
    return (time.perf_counter() - started) * len(train_labels) / count


def check_speed(epoch_seconds: float, device_name: str) -> Finding:
    predicted = epoch_seconds / REFERENCE_EPOCH_SECONDS * REFERENCE_NOTEBOOK_04_SECONDS
    detail = (f"one CNN epoch {epoch_seconds:.1f} s on {device_name} (reference 2-core CPU: "
              f"{REFERENCE_EPOCH_SECONDS:g} s): notebook 04 should take about {predicted / 60:.1f} min here")
    if predicted > SLOW_NOTEBOOK_04_SECONDS:
        return Finding("speed", "warn", detail, "this laptop is slow for the course: close other programs, plug it "
                       "in (battery saving slows the CPU), or pair up with a neighbour")
    return Finding("speed", "ok", detail)


def run_checks(quick: bool = False) -> list[Finding]:
    findings = [check_python(), check_packages()]
    if findings[-1].status == "FAIL":
        return findings                     # without the packages nothing else can run
    findings += [check_data(), check_memory(available_memory_bytes()),
                 check_disk(shutil.disk_usage(REPOSITORY).free)]
    from course_utils import device as device_module
    try:
        chosen = device_module.pick_device()
    except RuntimeError as error:           # COURSE_DEVICE asks for a device that is not there
        return findings + [Finding("device", "FAIL", str(error), "unset COURSE_DEVICE, or set it to cpu")]
    findings.append(Finding("device", "ok", device_module.explain_choice(chosen)))
    if findings[2].status != "FAIL":
        findings.append(check_speed(time_cnn_epoch(chosen, 0.25 if quick else 1.0), str(chosen)))
    return findings


def verdict(findings: list[Finding]) -> str:
    """The last line: READY, or NOT READY and the first thing to fix."""
    failed = [finding for finding in findings if finding.status == "FAIL"]
    return f"NOT READY: {failed[0].name}: {failed[0].fix}" if failed else "READY"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="time a quarter of an epoch instead of a whole one")
    arguments = parser.parse_args(argv)
    started = time.perf_counter()
    print(f"Pre-flight check of the course in {REPOSITORY}")
    findings = run_checks(arguments.quick)
    for finding in findings:
        print(finding.line(), flush=True)
    print(f"(checked in {time.perf_counter() - started:.0f} s)")
    print(verdict(findings))
    return 0 if verdict(findings) == "READY" else 1


if __name__ == "__main__":
    sys.exit(main())
