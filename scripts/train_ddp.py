"""Train notebook 06's served CNN on the bundled digits with DistributedDataParallel (DDP), one process per copy.

    torchrun --standalone --nproc_per_node=2 scripts/train_ddp.py --epochs 1 --out ddp_cnn.pt    # 2 processes here
    torchrun --standalone --nproc_per_node=4 scripts/train_ddp.py --epochs 2                      # 4 GPUs: nccl
    python scripts/train_ddp.py --epochs 1                                                        # 1 process

Every process holds a full copy of the model and trains it on its own shard of each epoch (``shard_batches``:
one seeded permutation of the 7,200 training digits, the same on every process, dealt out like cards, so the
shards are disjoint and together cover the data). After each backward pass DDP sums the gradients of all
processes (an all-reduce) and divides by their number, so every copy takes the same step from the same weights
and the copies stay identical. The recipe is the served model's (``deployment.SERVED_RECIPE``: AdamW, a
one-cycle learning rate, shifted digits); ``--scale-lr`` multiplies its peak learning rate by the number of
processes. The backend is
``nccl`` when ``device.pick_device()`` chooses CUDA and there is a GPU for every process on this machine,
else ``gloo`` on the CPU (on a Mac with an Apple GPU too: DDP does not run on MPS).

``torchrun`` tells each process who it is through environment variables (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``,
``MASTER_ADDR``...); run without it, the script sets them for a group of one. Every process prints one line with
the checksum of its final parameters; only rank 0 logs the rest, evaluates
on the 2,000 test digits and saves the model with ``deployment.save_model`` (weights and model card, as notebook
06 saves the served model, so ``python -m course_utils.serve --model <out>`` serves it). Rank 0's last line is
``RESULT {json}``: world size, backend, seconds of training, accuracies and the checksum.
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

REPOSITORY = Path(__file__).resolve().parents[1]
if str(REPOSITORY) not in sys.path:
    sys.path.insert(0, str(REPOSITORY))

from course_utils import data, deployment, device, train  # noqa: E402  (after the path fix above)

COLLECTIVE_TIMEOUT = datetime.timedelta(seconds=60)   # a collective that waits longer fails instead of hanging


def shard_batches(num_items: int, batch_size: int, rank: int, world_size: int, epoch: int, seed: int = 0):
    """This process's mini-batches of one epoch: a list of index arrays.

    One permutation of range(num_items), seeded by (seed, epoch) and so the same on every process, is dealt out
    like cards: rank r takes positions r, r + world_size, r + 2·world_size, ... So the shards of all ranks are
    disjoint and together hold every item once. Each shard is cut into the same number of batches on every rank,
    ceil(num_items / (world_size · batch_size)), as equal in size as possible and at most batch_size items, because
    DDP needs every process to take the same number of steps (each step waits for all of them).
    """
    if not 0 <= rank < world_size:
        raise ValueError(f"rank must be in 0..{world_size - 1}, got {rank}")
    if num_items < world_size * batch_size:
        raise ValueError(f"{num_items} items cannot fill one batch of {batch_size} on each of {world_size} processes")
    num_steps = -(-num_items // (world_size * batch_size))
    if num_items // world_size < num_steps:    # the smallest shard could not give every step an item
        raise ValueError(f"{num_items} items in batches of {batch_size} leave a process an empty batch: "
                         f"use a batch size of at least 2")
    order = np.random.default_rng([seed, epoch]).permutation(num_items)
    return np.array_split(order[rank::world_size], num_steps)


def choose_backend(local_world_size: int, local_rank: int) -> tuple[str, torch.device, str]:
    """(backend, device, why): nccl on this process's own GPU when pick_device() chooses CUDA and there are enough."""
    chosen = device.pick_device()
    if chosen.type == "cuda" and torch.cuda.device_count() >= local_world_size:
        return "nccl", torch.device("cuda", local_rank), f"one GPU per process ({torch.cuda.device_count()} found)"
    if chosen.type == "cuda":
        why = f"{local_world_size} processes but {torch.cuda.device_count()} GPU(s): gloo on the CPU"
    elif chosen.type == "mps":
        why = "pick_device() chose Apple's MPS, which DDP does not support: gloo on the CPU"
    else:
        why = "no GPU: gloo on the CPU"
    return "gloo", torch.device("cpu"), why


def parameter_checksum(model: nn.Module) -> str:
    """SHA-256 (first 16 hex digits) of every parameter's bytes: equal only for identical weights.

    Buffers are left out: batch norm's running mean and variance are updated by each copy from its own batches
    (DDP copies rank 0's into the others at the start of every forward pass, so they differ only by the last
    step's update); rank 0's are the ones saved.
    """
    digest = hashlib.sha256()
    for name, tensor in model.named_parameters():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def _start_process_group(backend: str, run_device: torch.device) -> None:
    if "WORLD_SIZE" not in os.environ:            # run without torchrun: a group of one, on loopback
        os.environ.update(RANK="0", WORLD_SIZE="1", LOCAL_RANK="0", LOCAL_WORLD_SIZE="1",
                          MASTER_ADDR="127.0.0.1", MASTER_PORT=os.environ.get("MASTER_PORT", "29511"))
    one_machine = os.environ["WORLD_SIZE"] == os.environ.get("LOCAL_WORLD_SIZE", os.environ["WORLD_SIZE"])
    if backend == "gloo" and one_machine and "GLOO_SOCKET_IFNAME" not in os.environ and Path("/sys/class/net/lo").exists():
        os.environ["GLOO_SOCKET_IFNAME"] = "lo"   # all processes on this machine: gloo talks over loopback (Linux)
    if run_device.type == "cuda":
        torch.cuda.set_device(run_device)          # before the group starts, so nccl uses this process's GPU
    dist.init_process_group(backend, timeout=COLLECTIVE_TIMEOUT)


def train_ddp(args) -> dict | None:
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", "1"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    backend, run_device, why = choose_backend(local_world_size, local_rank)
    if run_device.type == "cpu":                   # share the cores: N processes of all cores each would thrash
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
        torch.set_num_threads(args.threads or max(1, cores // local_world_size))
    _start_process_group(backend, run_device)
    rank, world_size = dist.get_rank(), dist.get_world_size()
    say = print if rank == 0 else (lambda *a, **k: None)
    say(f"world size {world_size}, backend {backend} ({why}), {torch.get_num_threads()} thread(s) per process")

    splits = data.load_mnist()
    train_images, train_labels, _, _ = data.train_val_split(splits.train_images, splits.train_labels,
                                                            val_fraction=0.1, seed=0)
    train_x, train_y = data.to_tensors(train_images, train_labels, run_device)
    recipe = deployment.SERVED_RECIPE
    torch.manual_seed(args.seed)
    # DDP copies rank 0's parameters and buffers to every process when it wraps the model: all start identical.
    model = DistributedDataParallel(deployment.build_served_cnn().to(run_device),
                                    device_ids=[run_device.index] if run_device.type == "cuda" else None)
    torch.manual_seed(args.seed * 1000 + rank)     # from here on, each copy its own dropout masks
    augment = data.RandomShift(recipe.max_shift, seed=args.seed * 1000 + rank)   # and its own shifts
    peak_rate = recipe.learning_rate * (world_size if args.scale_lr else 1)
    optimizer = torch.optim.AdamW(model.parameters(), lr=peak_rate, weight_decay=recipe.weight_decay)
    steps_per_epoch = len(shard_batches(len(train_x), recipe.batch_size, rank, world_size, 0, seed=args.seed))
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=peak_rate, epochs=args.epochs,
                                                    steps_per_epoch=steps_per_epoch)
    loss_fn = nn.CrossEntropyLoss()
    say(f"per-process batch {recipe.batch_size}, effective batch about {recipe.batch_size * world_size}, "
        f"{steps_per_epoch} steps per epoch, one-cycle learning rate peaking at {peak_rate:g}"
        f"{' (scaled by the world size)' if args.scale_lr else ''}")

    dist.barrier()
    started = time.perf_counter()
    for epoch in range(args.epochs):
        if rank == args.fail_rank and epoch == args.fail_at_epoch:
            os.kill(os.getpid(), signal.SIGKILL)   # a crashed process, for the tests: the others must not hang
        model.train()
        batches = shard_batches(len(train_x), recipe.batch_size, rank, world_size, epoch, seed=args.seed)
        for indices in batches:
            chosen = torch.as_tensor(indices, device=run_device)
            loss = loss_fn(model(augment(train_x[chosen])), train_y[chosen])
            optimizer.zero_grad()
            loss.backward()                        # DDP all-reduces (averages) the gradients here
            optimizer.step()
            scheduler.step()
        say(f"epoch {epoch + 1}: {len(batches)} steps of this process, last batch loss {loss.item():.3f}")
    dist.barrier()
    seconds = time.perf_counter() - started

    checksum = parameter_checksum(model.module)
    sys.stdout.write(f"rank {rank}: parameter checksum {checksum}\n")   # one write: lines of ranks never mix
    sys.stdout.flush()
    every_checksum = [None] * world_size
    dist.all_gather_object(every_checksum, checksum)
    result = None
    if rank == 0:
        network = model.module.eval()
        test_x, test_y = data.to_tensors(splits.test_images, splits.test_labels, run_device)
        _, test_accuracy = train.evaluate(network, test_x, test_y)
        result = {"world_size": world_size, "backend": backend, "seconds": round(seconds, 2), "epochs": args.epochs,
                  "test_accuracy": test_accuracy, "checksum": checksum,
                  "ranks_identical": len(set(every_checksum)) == 1}
        if args.out:
            deployment.save_model(network.cpu(), args.out, test_accuracy=test_accuracy, data="bundled MNIST",
                                  trained_with=f"scripts/train_ddp.py: DDP, {world_size} processes, {backend}, "
                                               f"{args.epochs} epoch(s), seed {args.seed}")
            say(f"saved {args.out} and its model card")
        say(f"trained in {seconds:.1f} s; test accuracy {test_accuracy:.2%}; "
            f"{'all ranks hold identical weights' if result['ranks_identical'] else 'RANKS DIFFER'}")
        sys.stdout.write("RESULT " + json.dumps(result) + "\n")
        sys.stdout.flush()
    dist.destroy_process_group()
    return result


def launch(num_processes: int, arguments=(), *, time_limit: float = 180, env: dict | None = None):
    """Run this script under ``torchrun --standalone`` with ``num_processes`` processes; a CompletedProcess.

    torchrun and its workers run in a process group of their own: when ``time_limit`` seconds pass, the whole
    group is killed (not torchrun alone, which would leave its workers running) and TimeoutError is raised. A
    launch that fails before any process has started training (its rendezvous port taken meanwhile) is tried
    once more; a failure after that is returned as it is.
    """
    command = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={num_processes}",
               str(Path(__file__).resolve()), *map(str, arguments)]
    for _ in range(2):
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
                                   start_new_session=True)
        try:
            stdout, stderr = process.communicate(timeout=time_limit)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL) if hasattr(os, "killpg") else process.kill()
            process.communicate()
            raise TimeoutError(f"{num_processes}-process launch still running after {time_limit} s: killed") from None
        if process.returncode == 0 or "world size" in stdout:
            break
    return subprocess.CompletedProcess(command, process.returncode, stdout, stderr)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=None, help="save the trained model (and its model card) here")
    parser.add_argument("--scale-lr", action="store_true", help="multiply the learning rate by the number of processes")
    parser.add_argument("--threads", type=int, default=0, help="torch threads per process on the CPU (default: cores / processes)")
    parser.add_argument("--fail-rank", type=int, default=-1, help=argparse.SUPPRESS)      # for the tests
    parser.add_argument("--fail-at-epoch", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.epochs < 1:
        parser.error("--epochs must be at least 1")
    return args


if __name__ == "__main__":
    train_ddp(parse_args())
