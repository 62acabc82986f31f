"""Data parallelism: reward, sft and ppo under ``accelerate launch`` with 2 CPU processes (gloo).

How the processes are started: ``accelerate launch --cpu --num_processes 2``
starts ONE process in Accelerate 1.15 (its CPU path spawns several processes
only through mpirun, which is not installed here). The shipped DDP config
(``docker/accelerate/ddp.yaml``, i.e. ``--multi_gpu``) starts two processes
through torchrun; with no visible GPU and ``--device cpu`` they form a gloo
process group on the CPU: the same code path as on several GPUs, minus NCCL.

Every launch runs in its own process group with a timeout and is killed as a
group if it overruns, so a wedged collective fails the test instead of hanging it.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from helpers import REPO, make_sft, read_metrics, read_result, write_jsonl
from safetensors.torch import load_file

from training import reward
from training.dist import check_divisible, shard_slice
from training.errors import TrainingInputError
from training.synthetic import planted_rows, write_snapshot

LAUNCH_TIMEOUT_S = 180  # a healthy launch takes ~10-20 s on 2 cores

pytestmark = pytest.mark.skipif(not torch.distributed.is_available() or not torch.distributed.is_gloo_available(),
                                reason="torch.distributed with gloo is needed")


def free_port() -> int:
    """A TCP port nobody listens on right now (the rendezvous of one launch)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(command: str, *args) -> subprocess.CompletedProcess:
    """``accelerate launch`` 2 processes of ``python -m training COMMAND ARGS`` on the CPU."""
    cmd = [sys.executable, "-m", "accelerate.commands.launch", "--config_file", "docker/accelerate/ddp.yaml",
           "--num_processes", "2", "--mixed_precision", "no", "--main_process_port", str(free_port()),
           "-m", "training", command, *map(str, args), "--device", "cpu"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false",
           "CUDA_VISIBLE_DEVICES": ""}
    proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)  # its own process group: the workers die with it
    try:
        out, err = proc.communicate(timeout=LAUNCH_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"accelerate launch {command} hung for {LAUNCH_TIMEOUT_S}s:\n{err[-3000:]}")
    return subprocess.CompletedProcess(cmd, proc.returncode, out, err)


def assert_written_once(out: Path, steps: list[int]) -> dict:
    """One metrics row per logging step, one model, no temp leftovers, result by 2 processes."""
    assert [r["step"] for r in read_metrics(out)] == steps
    assert (out / "model" / "prefloop.json").is_file()
    assert sorted(p.name for p in out.iterdir() if ".tmp" in p.name or ".old" in p.name) == []
    return read_result(out)


@pytest.fixture(scope="module")
def planted(tmp_path_factory):
    """K=4 rankings with a planted preference (as in test_reward)."""
    return write_snapshot(tmp_path_factory.mktemp("planted"), planted_rows(64, 4, seed=1), planted_rows(16, 4, seed=2))


def test_shards_partition_every_batch():
    for n in (2, 7, 8):
        parts = [shard_slice(n, SimpleNamespace(num_processes=2, process_index=r)) for r in (0, 1)]
        assert [i for p in parts for i in range(n)[p]] == list(range(n))  # disjoint, ordered, complete
    check_divisible(2, SimpleNamespace(num_processes=2), "batch_size", exact=True)
    with pytest.raises(TrainingInputError, match="multiple of the 2 processes"):
        check_divisible(3, SimpleNamespace(num_processes=2), "batch_size", exact=True)
    with pytest.raises(TrainingInputError, match=">= the 4 processes"):
        check_divisible(3, SimpleNamespace(num_processes=4), "batch_size")


def test_reward_two_processes_match_one_and_resume(tiny_model_dir, planted, tmp_path):
    # An odd batch (7 = 4 + 3 rankings) and chunked forwards exercise the loss weighting and no_sync.
    args = ["--model", tiny_model_dir, "--data", planted, "--batch_size", "7", "--rankings_per_forward", "2",
            "--learning_rate", "1e-3", "--max_steps", "9", "--logging_steps", "3", "--save_steps", "3"]
    one, two = tmp_path / "one", tmp_path / "two"
    assert reward.main([*map(str, args), "--output_dir", str(one), "--device", "cpu"]) == 0
    proc = launch("reward", *args, "--output_dir", two)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("reward model saved to") == 1  # only the main process reports
    result = assert_written_once(two, [3, 6, 9])
    assert result["summary"]["processes"] == 2
    assert [p.name for p in (two / "checkpoints").iterdir()] == ["step-00000006"]

    # Same global batches, same data order: the DDP run is the single-process run up to float reduction
    # order (measured: loss within 1e-6 relative, weights within 1e-6). Tolerance: 1e-4 relative on the
    # losses and the offset; accuracies equal (a 1e-6 score change flips no pair of this data).
    ra, rb, sa, sb = read_metrics(one), read_metrics(two), read_result(one)["summary"], result["summary"]
    for a, b in zip(ra, rb):
        assert b["loss"] == pytest.approx(a["loss"], rel=1e-4)
        assert b["train_acc"] == pytest.approx(a["train_acc"], abs=1e-6)
    for key in ("forward_passes", "pairs_seen", "rankings_seen", "completions_scored", "valid_pairs"):
        assert sb[key] == sa[key], key
    assert sb["valid_pairwise_accuracy"] == pytest.approx(sa["valid_pairwise_accuracy"], abs=1e-6)
    assert sb["reward_offset"] == pytest.approx(sa["reward_offset"], rel=1e-4, abs=1e-5)

    # Resume from step 6 on 2 processes: lands exactly where the uninterrupted 2-process run landed.
    shutil.copytree(two / "model", tmp_path / "uninterrupted")
    proc = launch("reward", *args, "--output_dir", two, "--resume")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "resuming from" in proc.stderr and "step 6" in proc.stderr
    resumed = read_metrics(two)
    assert [r["step"] for r in resumed] == [3, 6, 9]
    assert [r["loss"] for r in resumed] == pytest.approx([r["loss"] for r in rb], rel=1e-6)
    a, b = load_file(tmp_path / "uninterrupted" / "model.safetensors"), load_file(two / "model" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(b[key], a[key], rtol=0, atol=1e-6)


def test_sft_two_processes(tiny_model_dir, tmp_path):
    data, out = make_sft(tmp_path / "sft", n=16), tmp_path / "run"
    proc = launch("sft", "--model", tiny_model_dir, "--data", data, "--output_dir", out, "--max_steps", "4",
                  "--batch_size", "4", "--logging_steps", "2", "--learning_rate", "1e-3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("sft: done") == 1
    result = assert_written_once(out, [2, 4])
    assert result["summary"]["steps"] == 4
    # --batch_size is global (2 rows per process): 4 steps x 4 rows = one pass over the 16 rows.
    assert read_metrics(out)[-1]["epoch"] == pytest.approx(1.0)


def test_ppo_two_processes(tiny_model_dir, tmp_path):
    prompts = write_jsonl(tmp_path / "prompts.jsonl", [
        {"prompt": [{"role": "user", "content": f"Write one line about {t}."}]}
        for t in ("the sea", "a cat", "the moon", "coffee", "a robot", "music", "rain", "a garden")])
    out = tmp_path / "ppo"
    proc = launch("ppo", "--model", tiny_model_dir, "--prompts", prompts, "--output_dir", out,
                  "--reward_fn", "contains:the", "--batch_size", "8", "--mini_batch_size", "4", "--ppo_epochs", "2",
                  "--max_new_tokens", "8", "--learning_rate", "1e-3", "--max_steps", "3", "--logging_steps", "1",
                  "--ptx_data", make_sft(tmp_path / "sft", n=8), "--ptx_batch_size", "3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("policy saved to") == 1
    result = assert_written_once(out, [0, 1, 2, 3])  # step 0: the starting policy's held-out reward
    assert result["summary"]["processes"] == 2 and result["summary"]["episodes"] == 24
    rows = [r for r in read_metrics(out) if r["step"] > 0]
    for key in ("reward_mean", "kl", "entropy", "clip_fraction", "value_loss", "ptx_loss", "explained_variance"):
        assert all(r[key] is not None for r in rows), key
    assert rows[0]["kl"] == pytest.approx(0.0, abs=1e-5)  # sampled before any update: policy == reference
    assert 0.0 <= rows[-1]["reward_mean"] <= 1.0 and rows[-1]["entropy"] > 0
    trained, base = load_file(out / "model" / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    assert any(not torch.equal(trained[k], base[k]) for k in base)
    assert json.loads((out / "model" / "prefloop.json").read_text())["kind"] == "policy"
