"""How fast does the course train? One epoch of the course's MLP, CNN and LSTM through three pipelines.

    make bench                                     # or: .venv/bin/python benchmarks/bench_training.py
    .venv/bin/python benchmarks/bench_training.py --quick           # a smoke run in seconds
    .venv/bin/python benchmarks/bench_training.py --models cnn --repeats 5 --device cuda

The same model (same seed, so the same initial weights), the same 8,000 bundled
training images, batch size and optimizer (Adam, lr 1e-3) go through:

  (a) textbook   ``torch.utils.data.DataLoader`` (``num_workers=0``, no pinned
                 memory) over a torchvision-style dataset that returns PIL
                 images, each turned into a tensor by
                 ``Compose([ToTensor(), Normalize((0.1307,), (0.3081,))])``;
                 every batch is then copied to the device.
  (b) course     ``course_utils.train.fit`` called as a notebook calls it
                 (progress bar on, live plot on, history recorded; outside
                 Jupyter the live plot still redraws its figure each epoch but
                 shows nothing), for one epoch; the time is the whole call.
  (c) minimal    the five steps over tensors already on the device: one
                 shuffle per epoch, then slice, forward, loss, backward, step;
                 nothing else.

No pipeline evaluates on validation data, so all three do the same work. Each
pipeline first runs a short warm-up, then ``--repeats`` timed epochs, each on
a freshly built model; the runs of the three pipelines are interleaved so a
change in machine load hits all of them alike. The median is reported. On
CUDA the device is synchronized before each clock reading.

On the CPU the course loop is also timed with ``torch.set_num_threads(1)``
against all cores, and the faster setting is reported.

Prints a table and writes the same figures as JSON (``--out``, default
``benchmarks/results/bench_<device>.json``).
"""

from __future__ import annotations

import argparse
import datetime
import importlib
import json
import os
import platform
import statistics
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
from torch import nn

REPOSITORY = Path(__file__).resolve().parents[1]
if str(REPOSITORY) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(REPOSITORY))

from course_utils import data, device as course_device, train  # noqa: E402

PIPELINES = ("textbook", "course", "minimal")
PIPELINE_LABELS = {"textbook": "a", "course": "b", "minimal": "c"}
# name -> (module, class): the course's final models, each a no-argument nn.Module
# taking normalized (N, 1, 28, 28) images and returning (N, 10) logits.
MODELS = {
    "mlp": ("course_utils.mlp", "MLP"),
    "cnn": ("course_utils.cnn", "CNN"),
    "lstm": ("course_utils.rnn", "LSTMClassifier"),
}
TARGET_COURSE_OVER_MINIMAL = 1.10   # b/c: time of the course loop / time of the minimal loop, at most
TARGET_SPEEDUP_CPU = 5.0            # b/a: speed of the course loop / speed of the textbook pipeline, at least
TARGET_SPEEDUP_CUDA = 10.0
LEARNING_RATE = 1e-3
DEFAULT_BATCH_SIZE = 64
DEFAULT_REPEATS = 3
DEFAULT_WARMUP_BATCHES = 20
QUICK = {"train_size": 512, "repeats": 1, "warmup_batches": 2}


# ---------------------------------------------------------------------------
# Machine, device, models
# ---------------------------------------------------------------------------


def cpu_model() -> str:
    """The CPU's model name from /proc/cpuinfo (Linux), else platform.processor()."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def machine_info(device: torch.device) -> dict:
    info = {
        "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
        "cpu": cpu_model(),
        "cpu_cores": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": f"{platform.system()} {platform.release()} {platform.machine()}",
        "python": platform.python_version(),
        "torch": torch.__version__,
        "device": str(device),
    }
    try:
        import torchvision

        info["torchvision"] = torchvision.__version__
    except ImportError:
        info["torchvision"] = "not installed"
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
        info["cuda"] = torch.version.cuda
        info["cudnn"] = torch.backends.cudnn.version()
    try:
        info["load_average"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        pass
    return info


def synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so a clock reading covers it (no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    elif device.type == "mps":
        torch.mps.synchronize()


def load_model_factory(name: str) -> tuple[Callable[[], nn.Module] | None, str | None]:
    """``(factory, None)`` if the course's model ``name`` imports, builds and maps (2, 1, 28, 28) to (2, 10);
    otherwise ``(None, reason)``. Never raises: a model that is missing or broken is reported, not fatal."""
    module_name, class_name = MODELS[name]
    try:
        module = importlib.import_module(module_name)
        factory = getattr(module, class_name)
        model = factory()
        if not isinstance(model, nn.Module):
            return None, f"{module_name}.{class_name}() is not an nn.Module"
        with torch.no_grad():
            outputs = model.eval()(torch.zeros(2, 1, 28, 28))
        if tuple(outputs.shape) != (2, data.NUM_CLASSES):
            return None, f"{module_name}.{class_name} maps (2, 1, 28, 28) to {tuple(outputs.shape)}, not (2, 10)"
        return factory, None
    except Exception as error:  # ImportError, AttributeError, a bug in the module...
        return None, f"{module_name}.{class_name} unavailable: {type(error).__name__}: {error}".splitlines()[0]


# ---------------------------------------------------------------------------
# The three pipelines. Each builds a fresh model from the seed, and returns the
# seconds of one epoch (clock read after a device synchronize).
# ---------------------------------------------------------------------------


def _fresh(factory: Callable[[], nn.Module], device: torch.device, seed: int):
    torch.manual_seed(seed)
    model = factory().to(device)
    optimizer = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE)
    return model, optimizer


def make_pil_dataset(images: np.ndarray, labels: np.ndarray):
    """A torchvision-style dataset (like ``torchvision.datasets.MNIST``): item ``i`` is ``(transform(PIL image), int label)``."""
    from PIL import Image
    from torchvision import transforms
    from torchvision.datasets import VisionDataset

    class PilMnist(VisionDataset):
        def __init__(self, images, labels, transform):
            super().__init__(root=None, transform=transform)
            self.images, self.labels = images, labels

        def __len__(self):
            return len(self.labels)

        def __getitem__(self, index):
            image = Image.fromarray(self.images[index], mode="L")
            return self.transform(image), int(self.labels[index])

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((data.PIXEL_MEAN,), (data.PIXEL_STD,))])
    return PilMnist(images, labels, transform)


def epoch_textbook(factory, device, seed, batch_size, images: np.ndarray, labels: np.ndarray) -> float:
    """(a) DataLoader over PIL images, transformed one by one, batches copied to the device."""
    from torch.utils.data import DataLoader

    model, optimizer = _fresh(factory, device, seed)
    loss_fn = nn.CrossEntropyLoss()
    loader = DataLoader(make_pil_dataset(images, labels), batch_size=batch_size, shuffle=True,
                        num_workers=0, generator=torch.Generator().manual_seed(seed))
    synchronize(device)
    started = time.perf_counter()
    model.train()
    for inputs, targets in loader:
        inputs, targets = inputs.to(device), targets.to(device)
        loss = loss_fn(model(inputs), targets)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - started


def epoch_course(factory, device, seed, batch_size, x: torch.Tensor, y: torch.Tensor) -> float:
    """(b) ``train.fit`` as a notebook calls it (progress bar and live plot at their defaults: on), one epoch."""
    model, optimizer = _fresh(factory, device, seed)
    synchronize(device)
    started = time.perf_counter()
    history = train.fit(model, optimizer, nn.CrossEntropyLoss(), (x, y), num_epochs=1, batch_size=batch_size,
                        seed=seed, live_plot=True, progress=True, title="benchmark")
    synchronize(device)
    seconds = time.perf_counter() - started
    assert len(history.train_loss) == 1
    return seconds


def epoch_minimal(factory, device, seed, batch_size, x: torch.Tensor, y: torch.Tensor) -> float:
    """(c) the five steps over device tensors, nothing else (one shuffle per epoch, as ``data.Batches`` does)."""
    model, optimizer = _fresh(factory, device, seed)
    loss_fn = nn.CrossEntropyLoss()
    generator = torch.Generator().manual_seed(seed)
    synchronize(device)
    started = time.perf_counter()
    model.train()
    order = torch.randperm(len(x), generator=generator).to(device)
    x_shuffled, y_shuffled = x[order], y[order]
    for start in range(0, len(x_shuffled), batch_size):
        loss = loss_fn(model(x_shuffled[start:start + batch_size]), y_shuffled[start:start + batch_size])
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    synchronize(device)
    return time.perf_counter() - started


# ---------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------


@dataclass
class Workload:
    """The images of one benchmark in both forms: uint8 numpy (textbook) and normalized tensors on the device."""

    images: np.ndarray
    labels: np.ndarray
    x: torch.Tensor
    y: torch.Tensor
    device: torch.device

    @classmethod
    def bundled(cls, device: torch.device, train_size: int | None = None) -> "Workload":
        splits = data.load_mnist()
        images, labels = splits.train_images, splits.train_labels
        if train_size is not None:
            images, labels = images[:train_size], labels[:train_size]
        x, y = data.to_tensors(images, labels, device)
        return cls(images, labels, x, y, device)

    def head(self, count: int) -> "Workload":
        return Workload(self.images[:count], self.labels[:count], self.x[:count], self.y[:count], self.device)

    def __len__(self) -> int:
        return len(self.labels)


def run_pipeline(pipeline: str, factory, workload: Workload, seed: int, batch_size: int) -> float:
    if pipeline == "textbook":
        return epoch_textbook(factory, workload.device, seed, batch_size, workload.images, workload.labels)
    if pipeline == "course":
        return epoch_course(factory, workload.device, seed, batch_size, workload.x, workload.y)
    if pipeline == "minimal":
        return epoch_minimal(factory, workload.device, seed, batch_size, workload.x, workload.y)
    raise ValueError(f"unknown pipeline {pipeline!r}")


def _summary(seconds: list[float], num_images: int) -> dict:
    median = statistics.median(seconds)
    return {"epoch_seconds": round(median, 6), "images_per_second": round(num_images / median, 1),
            "runs_seconds": [round(value, 6) for value in seconds]}


def data_only_seconds(workload: Workload, seed: int, batch_size: int) -> dict:
    """One pass over the data alone, no model: the textbook DataLoader against ``data.Batches`` (median of 3).

    Shows what the data path itself costs; an epoch adds the model's forward and backward passes to it."""
    from torch.utils.data import DataLoader

    def textbook() -> float:
        loader = DataLoader(make_pil_dataset(workload.images, workload.labels), batch_size=batch_size, shuffle=True,
                            num_workers=0, generator=torch.Generator().manual_seed(seed))
        synchronize(workload.device)
        started = time.perf_counter()
        for inputs, targets in loader:
            inputs, targets = inputs.to(workload.device), targets.to(workload.device)
        synchronize(workload.device)
        return time.perf_counter() - started

    def course() -> float:
        synchronize(workload.device)
        started = time.perf_counter()
        for inputs, targets in data.Batches(workload.x, workload.y, batch_size, seed=seed):
            pass
        synchronize(workload.device)
        return time.perf_counter() - started

    textbook_seconds = statistics.median(textbook() for _ in range(3))
    course_seconds = statistics.median(course() for _ in range(3))
    return {"textbook_seconds": round(textbook_seconds, 6), "course_batches_seconds": round(course_seconds, 6),
            "speedup": round(textbook_seconds / max(course_seconds, 1e-9), 1)}


def benchmark_model(factory, workload: Workload, *, seed: int = 0, batch_size: int = DEFAULT_BATCH_SIZE,
                    repeats: int = DEFAULT_REPEATS, warmup_batches: int = DEFAULT_WARMUP_BATCHES,
                    compare_threads: bool | None = None, log=print) -> dict:
    """Time one epoch of ``factory()`` through the three pipelines (and the course loop on 1 thread, on the CPU).

    Returns ``{"pipelines": {name: {epoch_seconds, images_per_second, runs_seconds}},
    "speedup_b_over_a", "time_ratio_b_over_c", "threads": {...} or None}``.
    """
    if repeats < 1:
        raise ValueError(f"repeats must be at least 1, got {repeats}")
    device = workload.device
    if compare_threads is None:
        compare_threads = device.type == "cpu"
    all_cores = torch.get_num_threads()
    compare_threads = compare_threads and all_cores != 1

    def course_one_thread(work: Workload) -> float:
        torch.set_num_threads(1)
        try:
            return run_pipeline("course", factory, work, seed, batch_size)
        finally:
            torch.set_num_threads(all_cores)

    warmup = workload.head(max(1, min(len(workload), warmup_batches * batch_size)))
    for pipeline in PIPELINES:
        run_pipeline(pipeline, factory, warmup, seed, batch_size)
    if compare_threads:
        course_one_thread(warmup)
    runs: dict[str, list[float]] = {pipeline: [] for pipeline in PIPELINES}
    single_thread: list[float] = []
    for repeat in range(repeats):  # interleaved: a, b, c, (b on 1 thread), a, b, c, ...
        for pipeline in PIPELINES:
            seconds = run_pipeline(pipeline, factory, workload, seed, batch_size)
            runs[pipeline].append(seconds)
            log(f"    run {repeat + 1}/{repeats}  ({PIPELINE_LABELS[pipeline]}) {pipeline:<18} {seconds:8.3f} s")
        if compare_threads:
            seconds = course_one_thread(workload)
            single_thread.append(seconds)
            log(f"    run {repeat + 1}/{repeats}  (b) course, 1 thread   {seconds:8.3f} s")
    result = {"pipelines": {pipeline: _summary(runs[pipeline], len(workload)) for pipeline in PIPELINES}}
    medians = {pipeline: statistics.median(runs[pipeline]) for pipeline in PIPELINES}
    result["speedup_b_over_a"] = round(medians["textbook"] / medians["course"], 3)
    result["time_ratio_b_over_c"] = round(medians["course"] / medians["minimal"], 3)
    result["threads"] = None
    if compare_threads:
        summaries = {str(all_cores): _summary(runs["course"], len(workload)), "1": _summary(single_thread, len(workload))}
        best = min(summaries, key=lambda threads: summaries[threads]["epoch_seconds"])
        result["threads"] = {"course_loop": summaries, "fastest": int(best),
                             "one_thread_over_all_cores": round(statistics.median(single_thread) / medians["course"], 3)}
    return result


def run_benchmark(model_names, device: torch.device, *, train_size: int | None = None, seed: int = 0,
                  batch_size: int = DEFAULT_BATCH_SIZE, repeats: int = DEFAULT_REPEATS,
                  warmup_batches: int = DEFAULT_WARMUP_BATCHES, compare_threads: bool | None = None,
                  factories: dict | None = None, log=print) -> dict:
    """Benchmark each model in ``model_names``; a model that cannot be built is recorded as unavailable.

    ``factories`` maps extra names to model builders (the tests pass a tiny model).
    """
    factories = factories or {}
    workload = Workload.bundled(device, train_size)
    report = {
        "machine": machine_info(device),
        "settings": {"train_images": len(workload), "batch_size": batch_size, "optimizer": f"Adam(lr={LEARNING_RATE})",
                     "repeats": repeats, "warmup_batches": warmup_batches, "seed": seed, "statistic": "median",
                     "textbook_num_workers": 0, "validation": "none in any pipeline"},
        "targets": {"time_ratio_b_over_c_at_most": TARGET_COURSE_OVER_MINIMAL,
                    "speedup_b_over_a_at_least": TARGET_SPEEDUP_CUDA if device.type == "cuda" else TARGET_SPEEDUP_CPU},
        "models": {},
    }
    report["data_only"] = data_only_seconds(workload, seed, batch_size)
    log(f"data alone, one pass over {len(workload):,} images: textbook DataLoader {report['data_only']['textbook_seconds']:.3f} s, "
        f"course data.Batches {report['data_only']['course_batches_seconds']:.4f} s")
    for name in model_names:
        if name in factories:
            factory, reason = factories[name], None
        elif name in MODELS:
            factory, reason = load_model_factory(name)
        else:
            factory, reason = None, f"unknown model {name!r}; choose from {', '.join(MODELS)}"
        if factory is None:
            log(f"{name}: UNAVAILABLE ({reason})")
            report["models"][name] = {"status": "unavailable", "reason": reason}
            continue
        log(f"{name}: {sum(p.numel() for p in factory().parameters()):,} parameters, {len(workload):,} images per epoch")
        try:
            result = benchmark_model(factory, workload, seed=seed, batch_size=batch_size, repeats=repeats,
                                     warmup_batches=warmup_batches, compare_threads=compare_threads, log=log)
        except Exception as error:  # a model that builds but fails to train is reported, not fatal
            reason = f"failed while training: {type(error).__name__}: {error}".splitlines()[0]
            log(f"{name}: UNAVAILABLE ({reason})\n{traceback.format_exc()}")
            report["models"][name] = {"status": "unavailable", "reason": reason}
            continue
        report["models"][name] = {"status": "ok", **result}
    report["recommended_threads"] = recommend_threads(report)
    try:
        report["machine"]["load_average_at_end"] = [round(value, 2) for value in os.getloadavg()]
    except OSError:
        pass
    return report


def busy_warning(report: dict) -> str | None:
    """A warning when other programs kept the CPU busy (1-minute load average above the core count)."""
    machine = report["machine"]
    cores = machine.get("cpu_cores") or 1
    loads = [machine[key][0] for key in ("load_average", "load_average_at_end") if key in machine]
    if loads and max(loads) > cores:
        return (f"WARNING: load average up to {max(loads):.1f} on {cores} cores: other programs were running, "
                f"so these figures are not representative; rerun on an idle machine.")
    return None


def recommend_threads(report: dict) -> dict | None:
    """Which ``torch.set_num_threads`` the course loop should use on the CPU: the lower total epoch time."""
    totals: dict[str, float] = {}
    for result in report["models"].values():
        if result.get("status") != "ok" or not result.get("threads"):
            continue
        for threads, summary in result["threads"]["course_loop"].items():
            totals[threads] = totals.get(threads, 0.0) + summary["epoch_seconds"]
    if not totals:
        return None
    best = min(totals, key=totals.get)
    return {"threads": int(best), "total_epoch_seconds": {k: round(v, 6) for k, v in totals.items()},
            "advice": ("keep PyTorch's default (all cores)" if int(best) != 1 else "call torch.set_num_threads(1)")}


# ---------------------------------------------------------------------------
# Output
# ---------------------------------------------------------------------------


def _verdict(value: float, target: float, *, at_most: bool) -> str:
    ok = value <= target if at_most else value >= target
    return "meets" if ok else "misses"


def format_table(report: dict) -> str:
    """The report as a plain-text table (the same figures as the JSON)."""
    machine, settings, targets = report["machine"], report["settings"], report["targets"]
    header = (f"{'model':<6} {'pipeline':<14} {'epoch s':>9} {'images/s':>10}")
    lines = [
        f"device {machine['device']}" + (f" ({machine['gpu']})" if "gpu" in machine else "")
        + f", CPU {machine['cpu']}, {machine['cpu_cores']} cores, torch {machine['torch']}, {machine['date']}",
        f"{settings['train_images']:,} training images per epoch, batch {settings['batch_size']}, "
        f"{settings['optimizer']}, median of {settings['repeats']} after a warm-up; "
        f"textbook DataLoader with num_workers=0",
        "",
        header,
        "-" * len(header),
    ]
    ratio_lines = []
    for name, result in report["models"].items():
        if result["status"] != "ok":
            lines.append(f"{name:<6} unavailable: {result['reason']}")
            continue
        for pipeline in PIPELINES:
            figures = result["pipelines"][pipeline]
            label = f"({PIPELINE_LABELS[pipeline]}) {pipeline}"
            lines.append(f"{name:<6} {label:<14} {figures['epoch_seconds']:>9.3f} {figures['images_per_second']:>10,.0f}")
        speedup, ratio = result["speedup_b_over_a"], result["time_ratio_b_over_c"]
        ratio_lines.append(
            f"{name:<6} b/a speed-up {speedup:6.2f}x (target >= {targets['speedup_b_over_a_at_least']:g}: "
            f"{_verdict(speedup, targets['speedup_b_over_a_at_least'], at_most=False)})   "
            f"b/c time ratio {ratio:5.3f} (target <= {targets['time_ratio_b_over_c_at_most']:g}: "
            f"{_verdict(ratio, targets['time_ratio_b_over_c_at_most'], at_most=True)})")
    lines += ["", "b/a = epoch time of (a) / epoch time of (b); b/c = epoch time of (b) / epoch time of (c)"] + ratio_lines
    data_only = report.get("data_only")
    if data_only:
        lines += ["", f"data alone (no model), one pass: textbook DataLoader {data_only['textbook_seconds']:.3f} s, "
                      f"course data.Batches {data_only['course_batches_seconds']:.4f} s ({data_only['speedup']:g}x)"]
    thread_lines = []
    for name, result in report["models"].items():
        if result["status"] == "ok" and result.get("threads"):
            parts = [f"{threads} thread{'s' if threads != '1' else ''}: {summary['epoch_seconds']:.3f} s"
                     for threads, summary in sorted(result["threads"]["course_loop"].items(), key=lambda kv: int(kv[0]))]
            thread_lines.append(f"{name:<6} course loop  " + "   ".join(parts))
    if thread_lines:
        lines += ["", "torch.set_num_threads on the CPU (course loop, epoch seconds):"] + thread_lines
        advice = report.get("recommended_threads")
        if advice:
            lines.append(f"recommended: {advice['threads']} thread(s): {advice['advice']}")
    warning = busy_warning(report)
    if warning:
        lines += ["", warning]
    return "\n".join(lines)


def default_output(device: torch.device, quick: bool) -> Path:
    return REPOSITORY / "benchmarks" / "results" / f"bench_{device.type}{'_quick' if quick else ''}.json"


def write_json(report: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def parse_arguments(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--models", default=",".join(MODELS),
                        help=f"comma-separated subset of {','.join(MODELS)} (default: all)")
    parser.add_argument("--repeats", type=int, default=None, help=f"timed epochs per pipeline (default {DEFAULT_REPEATS})")
    parser.add_argument("--device", default=None,
                        help="cpu, cuda or mps (default: course_utils.device.pick_device(), which honours COURSE_DEVICE)")
    parser.add_argument("--batch-size", type=int, default=DEFAULT_BATCH_SIZE)
    parser.add_argument("--train-size", type=int, default=None, help="use only the first N training images (default: all 8,000)")
    parser.add_argument("--warmup-batches", type=int, default=None, help=f"batches in each warm-up run (default {DEFAULT_WARMUP_BATCHES})")
    parser.add_argument("--no-threads", action="store_true", help="skip the 1-thread vs all-cores comparison on the CPU")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--quick", action="store_true",
                        help=f"a smoke run: {QUICK['train_size']} images, {QUICK['repeats']} repeat, "
                             f"{QUICK['warmup_batches']} warm-up batches (figures not meaningful)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output path (default benchmarks/results/bench_<device>[_quick].json)")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    arguments = parse_arguments(argv)
    if not os.environ.get("MPLBACKEND"):
        import matplotlib

        matplotlib.use("Agg")  # the live plot draws off-screen in a script, never opens a window
    device = course_device.pick_device(arguments.device)
    quick = arguments.quick
    def chosen(value, quick_value, default):
        return value if value is not None else (quick_value if quick else default)

    repeats = chosen(arguments.repeats, QUICK["repeats"], DEFAULT_REPEATS)
    train_size = chosen(arguments.train_size, QUICK["train_size"], None)
    warmup_batches = chosen(arguments.warmup_batches, QUICK["warmup_batches"], DEFAULT_WARMUP_BATCHES)
    if repeats < 1 or warmup_batches < 1 or (train_size is not None and train_size < 1) or arguments.batch_size < 1:
        raise SystemExit("--repeats, --warmup-batches, --train-size and --batch-size must be positive")
    model_names = [name.strip() for name in arguments.models.split(",") if name.strip()]
    print(f"benchmarking {', '.join(model_names)} on {device}" + (" (--quick: smoke run, figures not meaningful)" if quick else ""))
    report = run_benchmark(model_names, device, train_size=train_size, seed=arguments.seed, batch_size=arguments.batch_size,
                           repeats=repeats, warmup_batches=warmup_batches,
                           compare_threads=False if arguments.no_threads else None)
    report["settings"]["quick"] = quick
    print()
    print(format_table(report))
    path = write_json(report, arguments.out or default_output(device, quick))
    print(f"\nJSON written to {path}")
    return report


if __name__ == "__main__":
    main()
