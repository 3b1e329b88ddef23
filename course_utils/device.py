"""Pick the compute device, seed every random number generator, report the set-up.

The course runs unchanged on a laptop CPU, an NVIDIA GPU (CUDA) or an Apple
GPU (MPS). ``pick_device()`` chooses the fastest one present; set the
environment variable ``COURSE_DEVICE`` to ``cpu``, ``cuda`` or ``mps`` to
force one (for example ``COURSE_DEVICE=cpu make test``).
"""

from __future__ import annotations

import os
import platform
import random
import sys

import numpy as np
import torch

ENV_VARIABLE = "COURSE_DEVICE"
KNOWN_DEVICES = ("cpu", "cuda", "mps")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return _mps_available()
    return name == "cpu"


def _requested() -> tuple[str | None, str]:
    """(the device named in ``COURSE_DEVICE``, lower-cased, or None when unset or blank; the raw value)."""
    raw = os.environ.get(ENV_VARIABLE, "")
    return (raw.strip().lower() or None), raw


def pick_device(preferred: str | None = None) -> torch.device:
    """Return the device to compute on.

    Order of choice: ``preferred`` if given, else the ``COURSE_DEVICE``
    environment variable if set (blank counts as unset), else CUDA, then Apple
    MPS, then CPU. Names are case-insensitive. Asking for a device that is not
    present raises ``RuntimeError`` rather than silently falling back.
    """
    from_variable, raw = _requested()
    if preferred is not None and not isinstance(preferred, str):
        raise TypeError(f"preferred must be a device name such as 'cpu', got {type(preferred).__name__}")
    requested = preferred.strip().lower() if preferred else from_variable
    if requested is None:
        for name in ("cuda", "mps"):
            if _available(name):
                return torch.device(name)
        return torch.device("cpu")
    source = f"pick_device({preferred!r})" if preferred else f"{ENV_VARIABLE}={raw!r}"
    if requested not in KNOWN_DEVICES:
        raise ValueError(f"unknown device {requested!r} (from {source}); use one of {', '.join(KNOWN_DEVICES)}")
    if not _available(requested):
        fix = ("call pick_device() without an argument, or pick_device('cpu')" if preferred
               else f"unset {ENV_VARIABLE} or set it to 'cpu'")
        raise RuntimeError(f"device {requested!r} was requested ({source}) but is not available on this machine; {fix}")
    return torch.device(requested)


def explain_choice(device: torch.device | None = None) -> str:
    """One sentence saying which device is used and why."""
    device = device or pick_device()
    forced, raw = _requested()
    if forced == device.type:
        return f"Using {device.type.upper()} because {ENV_VARIABLE}={raw.strip()} is set."
    if device.type == "cuda":
        return f"Using CUDA: an NVIDIA GPU was found ({torch.cuda.get_device_name(device)})."
    if device.type == "mps":
        return "Using MPS: an Apple-silicon GPU was found."
    if device.type == "cpu" and (_available("cuda") or _available("mps")):
        return "Using the CPU, as asked (a GPU is present)."
    built = f"this PyTorch build supports CUDA {torch.version.cuda}" if torch.version.cuda else "this PyTorch build has no CUDA support"
    return f"Using the CPU: no CUDA or Apple MPS GPU was found ({built}). Everything in the course runs on it."


def synchronize(device: torch.device) -> None:
    """Wait until the GPU has finished the work queued so far (nothing to wait for on the CPU).

    GPU calls return before the GPU is done, so a clock read without this measures only the queueing.
    """
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def seed_everything(seed: int = 0) -> torch.Generator:
    """Seed Python's ``random``, NumPy's global generator and PyTorch (CPU and GPU).

    Returns a ``torch.Generator`` seeded with ``seed`` for code that wants
    its own stream (batch shuffling, for example). On the CPU, a notebook
    that calls this once at the top gives the same numbers on every run.
    """
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ValueError(f"seed must be a non-negative integer, got {seed!r}")
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # also seeds every CUDA device
    generator = torch.Generator()
    generator.manual_seed(int(seed))
    return generator


def versions() -> dict[str, str]:
    """Versions of Python and of the libraries the course uses, as strings."""
    found = {"python": platform.python_version()}
    for module_name in ("numpy", "torch", "torchvision", "matplotlib", "ipywidgets"):
        try:
            module = __import__(module_name)
            found[module_name] = getattr(module, "__version__", "unknown")
        except ImportError:
            found[module_name] = "not installed"
    return found


def report(device: torch.device | None = None) -> str:
    """A short multi-line report of versions, threads and the device; also printed."""
    device = device or pick_device()
    lines = [f"{name:<12}{version}" for name, version in versions().items()]
    lines.append(f"{'platform':<12}{platform.system()} {platform.machine()}, {os.cpu_count()} CPU cores, torch uses {torch.get_num_threads()} threads")
    lines.append(f"{'device':<12}{device}")
    lines.append(explain_choice(device))
    text = "\n".join(lines)
    print(text, file=sys.stdout)
    return text
