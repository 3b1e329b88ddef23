"""scripts/train_ddp.py: the shards of DistributedDataParallel training, a real 2-process run on gloo over
loopback (identical weights on both ranks, a model the service loads), and a killed rank that makes the launch
fail fast instead of hanging."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from course_utils import deployment, serve

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "scripts" / "train_ddp.py"
LAUNCH_TIMEOUT = 180          # seconds; a 1-epoch run takes about 15 s on 2 cores, most of it starting up


def _load_script():
    spec = importlib.util.spec_from_file_location("train_ddp", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


train_ddp = _load_script()


@pytest.mark.parametrize("num_items, batch_size, world_size", [(7200, 64, 2), (1000, 32, 3), (130, 8, 4), (64, 64, 1)])
def test_shards_are_disjoint_complete_and_take_the_same_number_of_steps(num_items, batch_size, world_size):
    for epoch in (0, 1):
        per_rank = [train_ddp.shard_batches(num_items, batch_size, rank, world_size, epoch, seed=0)
                    for rank in range(world_size)]
        every = np.concatenate([np.concatenate(batches) for batches in per_rank])
        assert len(every) == num_items and len(np.unique(every)) == num_items, "shards overlap or miss items"
        assert len({len(batches) for batches in per_rank}) == 1, "ranks would take different numbers of steps"
        sizes = {len(batch) for batches in per_rank for batch in batches}
        assert max(sizes) <= batch_size and min(sizes) >= batch_size // 2


def test_shards_are_seeded_by_epoch_and_the_same_on_every_call():
    first = train_ddp.shard_batches(1000, 50, 1, 2, epoch=0, seed=0)
    again = train_ddp.shard_batches(1000, 50, 1, 2, epoch=0, seed=0)
    later = train_ddp.shard_batches(1000, 50, 1, 2, epoch=1, seed=0)
    assert all(np.array_equal(a, b) for a, b in zip(first, again))
    assert not np.array_equal(np.concatenate(first), np.concatenate(later))


def test_shards_refuse_impossible_requests():
    with pytest.raises(ValueError, match="rank must be in 0..1"):
        train_ddp.shard_batches(100, 10, 2, 2, 0)
    with pytest.raises(ValueError, match="cannot fill one batch"):
        train_ddp.shard_batches(10, 8, 0, 2, 0)
    with pytest.raises(ValueError, match="empty batch"):
        train_ddp.shard_batches(5, 1, 0, 2, 0)


def _launch(tmp_path, *arguments, processes=2):
    environment = {**os.environ, "COURSE_DEVICE": "cpu"}
    return train_ddp.launch(processes, arguments, time_limit=LAUNCH_TIMEOUT, env=environment)


def test_a_launch_past_its_time_limit_is_killed_with_its_workers(tmp_path):
    with pytest.raises(TimeoutError, match="still running after 2 s: killed"):
        train_ddp.launch(2, ["--epochs", "1"], time_limit=2, env={**os.environ, "COURSE_DEVICE": "cpu"})
    if shutil.which("pgrep"):
        time.sleep(0.5)
        leftover = subprocess.run(["pgrep", "-f", str(SCRIPT)], capture_output=True, text=True)
        assert leftover.stdout.strip() == "", f"workers left running: {leftover.stdout}"


def test_two_processes_on_gloo_end_with_identical_weights_and_a_model_the_service_loads(tmp_path):
    out = tmp_path / "ddp_cnn.pt"
    finished = _launch(tmp_path, "--epochs", "1", "--out", str(out))
    assert finished.returncode == 0, finished.stdout[-3000:] + finished.stderr[-3000:]
    checksums = re.findall(r"rank \d: parameter checksum ([0-9a-f]{16})", finished.stdout)
    assert len(checksums) == 2 and checksums[0] == checksums[1], finished.stdout
    result = json.loads(next(line for line in finished.stdout.splitlines() if line.startswith("RESULT "))[7:])
    assert result["world_size"] == 2 and result["backend"] == "gloo" and result["ranks_identical"]
    assert result["test_accuracy"] > 0.85, result          # one epoch of the served CNN: about 93 %
    card = json.loads(deployment.model_card_path(out).read_text())
    assert card["test_accuracy"] == result["test_accuracy"] and "2 processes" in card["trained_with"]
    model = deployment.load_model(out)
    assert train_ddp.parameter_checksum(model) == checksums[0]
    server = serve.make_server(out, port=0)
    try:
        assert server.server_address[1] > 0
    finally:
        server.server_close()


def test_a_killed_rank_makes_the_launch_fail_fast_with_the_root_cause(tmp_path):
    finished = _launch(tmp_path, "--epochs", "1", "--fail-rank", "1")   # rank 1 is SIGKILLed before training
    assert finished.returncode != 0
    report = finished.stdout + finished.stderr
    assert "FAILED" in report and "Root Cause" in report and "SIGKILL" in report, report[-3000:]
    assert "RESULT " not in report
