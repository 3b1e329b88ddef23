"""How fast does the course train? One epoch of the course's MLP, CNN and LSTM through three pipelines.

    make bench                                                     # all three models, 3 timed epochs each
    .venv/bin/python benchmarks/bench_training.py --quick          # a smoke run in seconds
    .venv/bin/python benchmarks/bench_training.py --models cnn --repeats 5 --device cuda

The same model (same seed), the same bundled training images, batch size and optimizer (Adam, lr 1e-3) go through:
  (a) textbook  torch.utils.data.DataLoader (num_workers=0) over PIL images, each turned into a tensor by
                Compose([ToTensor(), Normalize(...)]), every batch then copied to the device;
  (b) course    course_utils.train.fit as a notebook calls it (progress bar and live plot on; the live plot
                exists only inside Jupyter), one epoch, the whole call timed;
  (c) minimal   the five steps over tensors already on the device: one shuffle, then slice, forward, loss,
                backward, step; nothing else.
No pipeline evaluates on validation data. After a short warm-up, --repeats epochs are timed per pipeline, each on a
fresh model, interleaved (a, b, c, a, b, c, ...) so machine load hits all alike; the median is reported. On a GPU the
device is synchronized before each clock reading. On the CPU the course loop is also timed on one thread.
Prints a table and writes the figures as JSON (--out, default benchmarks/results/bench_<device>.json).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import torch
from torch import nn

REPOSITORY = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPOSITORY))  # run as a script from anywhere

from course_utils import data, models, train  # noqa: E402
from course_utils import device as course_device  # noqa: E402

PIPELINES = {"textbook": "a", "course": "b", "minimal": "c"}
MODELS = {"mlp": models.MLP, "cnn": models.CNN, "lstm": models.RowClassifier}
TARGETS = {"b/c at most": 1.10, "b/a at least": {"cpu": 5.0, "cuda": 10.0}}
LEARNING_RATE = 1e-3
QUICK = {"train_size": 512, "repeats": 1, "warmup_batches": 2}


def machine(device: torch.device) -> dict:
    """Where the figures were measured."""
    info = {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"), "device": str(device),
            "cpu": platform.processor() or platform.machine(), "cpu_cores": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "python": platform.python_version(), "torch": torch.__version__,
            "load_average": [round(value, 2) for value in os.getloadavg()]}
    if device.type == "cuda":
        info["gpu"] = torch.cuda.get_device_name(device)
    return info


def pil_loader(images, labels, batch_size: int, seed: int):
    """The textbook data path: a DataLoader over a dataset that returns (transform(PIL image), int label)."""
    from PIL import Image
    from torch.utils.data import DataLoader, Dataset
    from torchvision import transforms

    transform = transforms.Compose([transforms.ToTensor(), transforms.Normalize((data.PIXEL_MEAN,), (data.PIXEL_STD,))])

    class PilMnist(Dataset):
        def __len__(self):
            return len(labels)

        def __getitem__(self, index):
            return transform(Image.fromarray(images[index], mode="L")), int(labels[index])

    return DataLoader(PilMnist(), batch_size=batch_size, shuffle=True, num_workers=0,
                      generator=torch.Generator().manual_seed(seed))


def one_epoch(pipeline: str, factory, workload: dict, seed: int, batch_size: int) -> float:
    """Seconds of one epoch of a fresh ``factory()`` model through ``pipeline``."""
    device, (x, y) = workload["device"], workload["tensors"]
    torch.manual_seed(seed)
    model = factory().to(device)
    optimizer, loss_fn = torch.optim.Adam(model.parameters(), lr=LEARNING_RATE), nn.CrossEntropyLoss()
    course_device.synchronize(device)
    started = time.perf_counter()
    if pipeline == "course":
        train.fit(model, optimizer, loss_fn, (x, y), num_epochs=1, batch_size=batch_size, seed=seed, title="benchmark")
    else:
        if pipeline == "textbook":
            batches = ((inputs.to(device), targets.to(device))
                       for inputs, targets in pil_loader(*workload["arrays"], batch_size, seed))
        else:
            order = torch.randperm(len(x), generator=torch.Generator().manual_seed(seed)).to(device)
            x_shuffled, y_shuffled = x[order], y[order]
            batches = ((x_shuffled[i:i + batch_size], y_shuffled[i:i + batch_size]) for i in range(0, len(x), batch_size))
        model.train()
        for inputs, targets in batches:
            loss = loss_fn(model(inputs), targets)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
    course_device.synchronize(device)
    return time.perf_counter() - started


def summary(seconds: list[float], num_images: int) -> dict:
    median = statistics.median(seconds)
    return {"epoch_seconds": round(median, 6), "images_per_second": round(num_images / median, 1),
            "runs_seconds": [round(value, 6) for value in seconds]}


def data_only(workload: dict, seed: int, batch_size: int) -> dict:
    """One pass over the data alone (no model), median of 3: the textbook DataLoader against ``data.Batches``."""
    def timed(make_batches) -> float:
        course_device.synchronize(workload["device"])
        started = time.perf_counter()
        for inputs, targets in make_batches():
            inputs, targets = inputs.to(workload["device"]), targets.to(workload["device"])
        course_device.synchronize(workload["device"])
        return time.perf_counter() - started

    textbook = statistics.median(timed(lambda: pil_loader(*workload["arrays"], batch_size, seed)) for _ in range(3))
    course = statistics.median(timed(lambda: data.Batches(*workload["tensors"], batch_size, seed=seed)) for _ in range(3))
    return {"textbook_seconds": round(textbook, 6), "course_batches_seconds": round(course, 6),
            "speedup": round(textbook / max(course, 1e-9), 1)}


def benchmark_model(factory, workload: dict, *, seed=0, batch_size=64, repeats=3, warmup_batches=20,
                    compare_threads=True, log=print) -> dict:
    """Median epoch of ``factory()`` through the three pipelines, their ratios, and (optionally) 1 thread vs all."""
    cores = torch.get_num_threads()
    compare_threads = compare_threads and workload["device"].type == "cpu" and cores > 1
    warmup = {**workload, "tensors": tuple(t[:warmup_batches * batch_size] for t in workload["tensors"]),
              "arrays": tuple(a[:warmup_batches * batch_size] for a in workload["arrays"])}
    runs = {name: [] for name in [*PIPELINES, "course, 1 thread"]}
    for repeat in range(-1, repeats):  # repeat -1 is the warm-up, not recorded
        for name in runs if compare_threads else PIPELINES:
            torch.set_num_threads(1 if name.endswith("1 thread") else cores)
            try:
                seconds = one_epoch(name.split(",")[0], factory, warmup if repeat < 0 else workload, seed, batch_size)
            finally:
                torch.set_num_threads(cores)
            if repeat >= 0:
                runs[name].append(seconds)
                log(f"    run {repeat + 1}/{repeats}  {name:<18} {seconds:8.3f} s")
    size = len(workload["tensors"][1])
    median = {name: statistics.median(values) for name, values in runs.items() if values}
    result = {"pipelines": {name: summary(runs[name], size) for name in PIPELINES},
              "speedup_b_over_a": round(median["textbook"] / median["course"], 3),
              "time_ratio_b_over_c": round(median["course"] / median["minimal"], 3), "threads": None}
    if compare_threads:
        result["threads"] = {"course_loop": {str(cores): summary(runs["course"], size), "1": summary(runs["course, 1 thread"], size)},
                             "one_thread_over_all_cores": round(median["course, 1 thread"] / median["course"], 3)}
    return result


def run_benchmark(model_names, device: torch.device, *, train_size=None, factories=None, log=print, **options) -> dict:
    """Benchmark each named model; one that is unknown or fails is recorded as unavailable, never fatal."""
    factories = {**MODELS, **(factories or {})}
    splits = data.load_mnist()
    images, labels = splits.train_images[:train_size], splits.train_labels[:train_size]
    workload = {"device": device, "arrays": (images, labels), "tensors": data.to_tensors(images, labels, device)}
    settings = {"train_images": len(labels), "batch_size": options.get("batch_size", 64), "repeats": options.get("repeats", 3),
                "optimizer": f"Adam(lr={LEARNING_RATE})", "statistic": "median", "textbook_num_workers": 0}
    report = {"machine": machine(device), "settings": settings, "models": {},
              "targets": {"time_ratio_b_over_c_at_most": TARGETS["b/c at most"],
                          "speedup_b_over_a_at_least": TARGETS["b/a at least"].get(device.type, 5.0)},
              "data_only": data_only(workload, options.get("seed", 0), settings["batch_size"])}
    for name in model_names:
        try:
            if name not in factories:
                raise KeyError(f"unknown model {name!r}; choose from {', '.join(MODELS)}")
            log(f"{name}: {train.count_parameters(factories[name]()):,} parameters, {len(labels):,} images per epoch")
            report["models"][name] = {"status": "ok", **benchmark_model(factories[name], workload, log=log, **options)}
        except Exception as error:  # a missing or broken model is reported, the others still run
            reason = f"{type(error).__name__}: {error}".splitlines()[0]
            log(f"{name}: UNAVAILABLE ({reason})")
            report["models"][name] = {"status": "unavailable", "reason": reason}
    return report


def format_table(report: dict) -> str:
    """The report as plain text: epoch seconds and images/s per pipeline, the two ratios against their targets."""
    machine_info, settings, targets = report["machine"], report["settings"], report["targets"]
    lines = [f"device {machine_info['device']} {machine_info.get('gpu', '')}, {machine_info['cpu_cores']} CPU cores, "
             f"torch {machine_info['torch']}, {machine_info['date']}, load {machine_info['load_average']}",
             f"{settings['train_images']:,} images per epoch, batch {settings['batch_size']}, {settings['optimizer']}, "
             f"median of {settings['repeats']}", "", f"{'model':<6} {'pipeline':<14} {'epoch s':>9} {'images/s':>10}"]
    ratios, threads = ["", "b/a = epoch time of (a) / of (b); b/c = epoch time of (b) / of (c)"], []
    for name, result in report["models"].items():
        if result["status"] != "ok":
            lines.append(f"{name:<6} unavailable: {result['reason']}")
            continue
        for pipeline, label in PIPELINES.items():
            figures = result["pipelines"][pipeline]
            lines.append(f"{name:<6} {f'({label}) {pipeline}':<14} {figures['epoch_seconds']:>9.3f} {figures['images_per_second']:>10,.0f}")
        speedup, ratio = result["speedup_b_over_a"], result["time_ratio_b_over_c"]
        ratios.append(f"{name:<6} b/a speed-up {speedup:6.2f}x (target >= {targets['speedup_b_over_a_at_least']:g}: "
                      f"{'meets' if speedup >= targets['speedup_b_over_a_at_least'] else 'misses'})   b/c time ratio "
                      f"{ratio:5.3f} (target <= {targets['time_ratio_b_over_c_at_most']:g}: "
                      f"{'meets' if ratio <= targets['time_ratio_b_over_c_at_most'] else 'misses'})")
        if result["threads"]:
            loop = result["threads"]["course_loop"]
            threads.append(f"{name:<6} course loop: " + ", ".join(f"{n} thread(s) {loop[n]['epoch_seconds']:.3f} s" for n in sorted(loop)))
    only = report["data_only"]
    lines += ratios + ["", f"data alone, one pass: textbook DataLoader {only['textbook_seconds']:.3f} s, "
                           f"course data.Batches {only['course_batches_seconds']:.4f} s ({only['speedup']:g}x)"]
    return "\n".join(lines + (["", "torch.set_num_threads on the CPU:"] + threads if threads else []))


def main(argv=None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--models", default=",".join(MODELS), help=f"comma-separated subset of {','.join(MODELS)}")
    parser.add_argument("--repeats", type=int, help="timed epochs per pipeline (default 3)")
    parser.add_argument("--device", help="cpu, cuda or mps (default: device.pick_device(), which honours COURSE_DEVICE)")
    parser.add_argument("--batch-size", type=int, default=64)
    parser.add_argument("--train-size", type=int, help="only the first N training images (default: all 8,000)")
    parser.add_argument("--warmup-batches", type=int, help="batches in the warm-up epoch (default 20)")
    parser.add_argument("--no-threads", action="store_true", help="skip the 1-thread comparison on the CPU")
    parser.add_argument("--quick", action="store_true", help="a smoke run: 512 images, 1 repeat (figures not meaningful)")
    parser.add_argument("--out", type=Path, help="JSON path (default benchmarks/results/bench_<device>[_quick].json)")
    arguments = parser.parse_args(argv)
    quick = QUICK if arguments.quick else {"train_size": None, "repeats": 3, "warmup_batches": 20}
    options = {key: getattr(arguments, key) if getattr(arguments, key) is not None else value for key, value in quick.items()}
    if min(options["repeats"], options["warmup_batches"], arguments.batch_size, options["train_size"] or 1) < 1:
        raise SystemExit("--repeats, --warmup-batches, --train-size and --batch-size must be positive")
    device = course_device.pick_device(arguments.device)
    names = [name.strip() for name in arguments.models.split(",") if name.strip()]
    report = run_benchmark(names, device, batch_size=arguments.batch_size, compare_threads=not arguments.no_threads, **options)
    report["settings"]["quick"] = arguments.quick
    print("\n" + format_table(report))
    path = arguments.out or REPOSITORY / "benchmarks" / "results" / f"bench_{device.type}{'_quick' if arguments.quick else ''}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON written to {path}")
    return report


if __name__ == "__main__":
    main()
