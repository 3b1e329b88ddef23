"""How long does the whole course take? Execute every notebook in a fresh kernel and time it.

    make bench-notebooks                           # or: .venv/bin/python benchmarks/bench_notebooks.py
    .venv/bin/python benchmarks/bench_notebooks.py --notebooks 03,04_cnn    # a few (prefixes, names or paths)

Each notebook is read into memory and executed there by ``nbclient`` in its own
fresh ``python3`` kernel, with ``notebooks/`` as the working directory, exactly
as ``make execute`` runs them; the committed files are never written. The time
of a notebook is the wall-clock time of the whole execution, kernel start
included. The device is the one ``course_utils.device.pick_device()`` chooses
here (set ``COURSE_DEVICE`` to force one: the kernels inherit it).

Prints seconds and the kernel's peak resident memory per notebook, the total and the device; writes the same as JSON
(``--out``, default ``benchmarks/results/notebooks_<device>.json``). Exits with
status 1 if a notebook fails (its error is reported; the others still run).
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import sys
import time
from pathlib import Path

REPOSITORY = Path(__file__).resolve().parents[1]
NOTEBOOK_DIR = REPOSITORY / "notebooks"
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))


def find_notebooks(selection: str | None = None, folder: Path = NOTEBOOK_DIR) -> list[Path]:
    """The course notebooks ``NN_*.ipynb`` in order; ``selection`` is a comma-separated list of
    file names, name prefixes (``03`` or ``03_mlp``) or paths."""
    every = sorted(folder.glob("[0-9][0-9]_*.ipynb"))
    if not selection:
        return every
    chosen: list[Path] = []
    for item in (part.strip() for part in selection.split(",")):
        if not item:
            continue
        path = Path(item)
        if path.suffix == ".ipynb" and path.is_file():
            matches = [path.resolve()]
        else:
            matches = [notebook for notebook in every if notebook.name.startswith(item)]
        if not matches:
            raise SystemExit(f"no notebook matches {item!r}; choose from: {', '.join(n.name for n in every)}")
        chosen += [match for match in matches if match not in chosen]
    return chosen


# Appended to the notebook in memory, run last in its kernel: the kernel's peak resident memory so far.
# ru_maxrss is in kilobytes on Linux and in bytes on macOS; Windows has no ``resource`` module (no figure).
PEAK_MEMORY_CELL = """\
try:
    import resource as _resource, sys as _sys
    _peak = _resource.getrusage(_resource.RUSAGE_SELF).ru_maxrss
    print("PEAK_RSS_BYTES", _peak if _sys.platform == "darwin" else _peak * 1024)
except ImportError:
    pass
"""


def peak_memory_bytes(cell) -> int | None:
    """The figure PEAK_MEMORY_CELL printed, or None."""
    for output in cell.get("outputs", []):
        for line in "".join(output.get("text", "")).splitlines():
            if line.startswith("PEAK_RSS_BYTES "):
                return int(line.split()[1])
    return None


def execute_notebook(path: Path, *, timeout: int = 900, kernel_name: str = "python3") -> dict:
    """Run ``path`` top to bottom in a fresh kernel, in memory. Returns seconds, peak memory, cell count and status."""
    import nbformat
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError, CellTimeoutError, DeadKernelError

    notebook = nbformat.read(str(path), as_version=4)  # a copy in memory: the file is never written
    code_cells = sum(cell.cell_type == "code" for cell in notebook.cells)
    notebook.cells.append(nbformat.v4.new_code_cell(PEAK_MEMORY_CELL))
    client = NotebookClient(notebook, timeout=timeout, kernel_name=kernel_name,
                            resources={"metadata": {"path": str(path.parent)}})
    started = time.perf_counter()
    status, error = "ok", None
    try:
        client.execute()
    except (CellExecutionError, CellTimeoutError, DeadKernelError) as failure:
        status = "failed"
        text = re.sub(r"\x1b\[[0-9;]*m", "", str(failure))  # drop the traceback's terminal colours
        lines = [line for line in text.strip().splitlines() if line.strip()]
        error = f"{type(failure).__name__}: {lines[-1] if lines else ''}"[:500]
    seconds = time.perf_counter() - started
    peak = peak_memory_bytes(notebook.cells[-1]) if status == "ok" else None
    return {"notebook": path.name, "seconds": round(seconds, 2), "peak_memory_mb": None if peak is None else round(peak / 1e6),
            "code_cells": code_cells, "status": status, "error": error}


def run(notebooks: list[Path], *, timeout: int = 900, log=print) -> dict:
    import torch

    from course_utils import device as course_device

    device = course_device.pick_device()
    report = {
        "machine": {
            "date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "device": str(device),
            "gpu": torch.cuda.get_device_name(device) if device.type == "cuda" else None,
            "cpu_cores": os.cpu_count(),
            "platform": f"{platform.system()} {platform.machine()}",
            "python": platform.python_version(),
            "torch": torch.__version__,
        },
        "notebooks": [],
    }
    try:
        from benchmarks.bench_training import cpu_model
    except ImportError:  # run from elsewhere without the package on the path
        cpu_model = platform.processor
    report["machine"]["cpu"] = cpu_model()
    log(f"executing {len(notebooks)} notebook(s), each in a fresh kernel, on device {device}"
        + (f" ({report['machine']['gpu']})" if report["machine"]["gpu"] else ""))
    for path in notebooks:
        log(f"  {path.name} ...", end="", flush=True)
        result = execute_notebook(path, timeout=timeout)
        report["notebooks"].append(result)
        memory = f"{result['peak_memory_mb']:6,} MB" if result["peak_memory_mb"] is not None else "     ? MB"
        log(f" {result['seconds']:8.1f} s {memory}  {result['status']}" + (f"  {result['error']}" if result["error"] else ""))
    report["total_seconds"] = round(sum(result["seconds"] for result in report["notebooks"]), 2)
    report["all_ok"] = all(result["status"] == "ok" for result in report["notebooks"])
    return report


def format_table(report: dict) -> str:
    width = max([len(result["notebook"]) for result in report["notebooks"]] + [len("notebook")])
    lines = [f"{'notebook':<{width}} {'seconds':>9} {'peak MB':>8}  status", "-" * (width + 27)]
    for result in report["notebooks"]:
        memory = result.get("peak_memory_mb")
        lines.append(f"{result['notebook']:<{width}} {result['seconds']:>9.1f} {'?' if memory is None else f'{memory:,}':>8}  "
                     f"{result['status']}")
    lines.append("-" * (width + 27))
    minutes = report["total_seconds"] / 60
    lines.append(f"{'total':<{width}} {report['total_seconds']:>9.1f}  ({minutes:.1f} min)")
    machine = report["machine"]
    lines.append(f"device {machine['device']}" + (f" ({machine['gpu']})" if machine["gpu"] else "")
                 + f"; CPU {machine['cpu']}, {machine['cpu_cores']} cores; torch {machine['torch']}; {machine['date']}")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--notebooks", default=None,
                        help="comma-separated notebook names, prefixes (e.g. 03,05_rnn) or paths (default: all in notebooks/)")
    parser.add_argument("--timeout", type=int, default=900, help="seconds allowed per cell (default 900, as make execute)")
    parser.add_argument("--out", type=Path, default=None,
                        help="JSON output path (default benchmarks/results/notebooks_<device>.json)")
    arguments = parser.parse_args(argv)
    notebooks = find_notebooks(arguments.notebooks)
    if not notebooks:
        print(f"no notebooks found in {NOTEBOOK_DIR}")
        return 1
    report = run(notebooks, timeout=arguments.timeout)
    print()
    print(format_table(report))
    device_type = report["machine"]["device"].split(":")[0]
    path = arguments.out or REPOSITORY / "benchmarks" / "results" / f"notebooks_{device_type}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(report, indent=2) + "\n")
    print(f"\nJSON written to {path}")
    return 0 if report["all_ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
