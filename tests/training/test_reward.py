"""Reward-model training: learns a planted preference, resumes exactly, rejects bad input."""

import json

import pytest
import torch
from helpers import read_metrics, read_result, run_cli, write_jsonl
from safetensors.torch import load_file

from training import reward
from training.reward_model import init_reward_model, load_reward_model
from training.synthetic import planted_rows, write_snapshot


@pytest.fixture(scope="module")
def planted_snapshot(tmp_path_factory):
    """K=4 rankings ordered by how often a marker word appears (ties among equal counts)."""
    folder = tmp_path_factory.mktemp("planted")
    return write_snapshot(folder, planted_rows(160, 4, seed=1), planted_rows(48, 4, seed=2))


def rm_args(model, data, out, *extra):
    """Flags of a small, fast reward run."""
    return ["--model", str(model), "--data", str(data), "--output_dir", str(out), "--device", "cpu",
            "--batch_size", "8", "--learning_rate", "1e-3", "--logging_steps", "5", *map(str, extra)]


def test_learns_planted_preference(tiny_model_dir, planted_snapshot, tmp_path):
    # Sanity: the untrained head is near chance on the same held-out rows.
    fresh = init_reward_model(tiny_model_dir, "cpu", torch.float32)
    valid = [json.loads(line) for line in (planted_snapshot / "valid.jsonl").read_text().splitlines()]
    before = reward.evaluate(fresh, reward.tokenize_rows(fresh, valid), valid, torch.device("cpu"),
                             torch.float32, 64)["pairwise_accuracy"]
    assert before < 0.8

    out = tmp_path / "rm"
    # Every training ranking estimates the bias here (the default samples 128), so the mean below is exactly 0.
    assert reward.main(rm_args(tiny_model_dir, planted_snapshot, out, "--max_steps", "40",
                               "--normalize_max_rows", "1000")) == 0
    result = read_result(out)
    summary = result["summary"]
    assert summary["valid_pairwise_accuracy"] > 0.9
    # K forward passes per ranking, not K(K-1): 40 steps x 8 rankings x 4 completions.
    assert summary["forward_passes"] == 40 * 8 * 4
    assert summary["pairs_seen"] > summary["forward_passes"] / 4  # several pairs per ranking

    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [5, 10, 15, 20, 25, 30, 35, 40]
    assert all({"loss", "lr", "progress", "tokens_per_s", "train_acc"} <= set(r) for r in rows)
    assert rows[-1]["progress"] == 1.0 and rows[-1]["loss"] < rows[0]["loss"]

    # The saved folder is self-contained; the offset centres training completions at 0.
    rm = load_reward_model(out / "model", "cpu", torch.float32)
    assert rm.offset == pytest.approx(summary["reward_offset"])
    train = [json.loads(line) for line in (planted_snapshot / "train.jsonl").read_text().splitlines()]
    prompts = [r["prompt"] for r in train for _ in r["completions"]]
    scores = rm.score(prompts, [c for r in train for c in r["completions"]], batch_size=32)
    assert abs(sum(scores) / len(scores)) < 1e-3
    p = [{"role": "user", "content": "Say something."}]
    good, bad = rm.score([p, p], ["the gracias sea is gracias wide", "the sea is wide and blue"])
    assert good > bad


def test_resume_lands_where_an_uninterrupted_run_lands(tiny_model_dir, planted_snapshot, tmp_path, monkeypatch):
    args = ["--max_steps", "9", "--save_steps", "3", "--normalize", "false"]
    full, broken = tmp_path / "full", tmp_path / "broken"
    assert reward.main(rm_args(tiny_model_dir, planted_snapshot, full, *args)) == 0

    real_step, calls = reward.train_step, {"n": 0}

    def crash_on_step_5(*a, **k):
        calls["n"] += 1
        if calls["n"] == 5:
            raise KeyboardInterrupt("simulated preemption")
        return real_step(*a, **k)

    monkeypatch.setattr(reward, "step_fn", crash_on_step_5)
    with pytest.raises(KeyboardInterrupt):
        reward.main(rm_args(tiny_model_dir, planted_snapshot, broken, *args))
    assert not (broken / "result.json").exists() and (broken / "checkpoints" / "step-00000003").is_dir()
    monkeypatch.setattr(reward, "step_fn", real_step)
    assert reward.main(rm_args(tiny_model_dir, planted_snapshot, broken, *args, "--resume")) == 0

    a, b = load_file(full / "model" / "model.safetensors"), load_file(broken / "model" / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    ra, rb = read_result(full)["summary"], read_result(broken)["summary"]
    assert ra["valid_pairwise_accuracy"] == rb["valid_pairwise_accuracy"]
    assert ra["forward_passes"] == rb["forward_passes"]
    la = [(r["step"], round(r["loss"], 6)) for r in read_metrics(full)]
    lb = [(r["step"], round(r["loss"], 6)) for r in read_metrics(broken)]
    assert la == lb


def test_cli_end_to_end_and_bad_ranking(tiny_model_dir, tmp_path):
    rows = planted_rows(12, 3, seed=3)
    data = write_jsonl(tmp_path / "cmp.jsonl", rows)
    out = tmp_path / "rm"
    proc = run_cli("reward", *rm_args(tiny_model_dir, data, out, "--max_steps", "2", "--valid_data", data))
    assert proc.returncode == 0, proc.stderr
    result = read_result(out)
    assert result["status"] == "succeeded" and result["command"] == "reward"
    assert 0.0 <= result["summary"]["valid_pairwise_accuracy"] <= 1.0
    assert (out / "model" / "reward_config.json").is_file() and (out / "model" / "tokenizer.json").is_file()

    rows[4]["ranking"] = [[0], [1]]  # completion 2 missing: not a partition of range(3)
    bad = write_jsonl(tmp_path / "bad.jsonl", rows)
    proc = run_cli("reward", *rm_args(tiny_model_dir, bad, tmp_path / "rm2", "--max_steps", "2"))
    assert proc.returncode == 2
    assert f"{bad}:5:" in proc.stderr and "partition" in proc.stderr
    assert not (tmp_path / "rm2" / "metrics.jsonl").exists()  # rejected before any training


def test_chunked_forward_gives_the_same_step(tiny_model_dir):
    """rankings_per_forward accumulates gradients to exactly the one-forward batch mean."""
    from types import SimpleNamespace

    from training.optim import warmup_schedule

    rows = planted_rows(6, 3, seed=5) + planted_rows(2, 5, seed=6)
    params = []
    for per_forward in (0, 3):
        torch.manual_seed(0)
        rm = init_reward_model(tiny_model_dir, "cpu", torch.float32)
        opt = torch.optim.SGD(rm.parameters(), lr=1.0)  # plain SGD: the update is the gradient
        sched = warmup_schedule(opt, 0, 10)
        cfg = SimpleNamespace(max_grad_norm=0.0, rankings_per_forward=per_forward)
        out = reward.train_step(rm, opt, sched, reward.tokenize_rows(rm, rows), [r["ranking"] for r in rows],
                                cfg, torch.device("cpu"), torch.float32)
        params.append((out, [p.detach().clone() for p in rm.parameters()]))
    (whole, pw), (chunked, pc) = params
    assert chunked["loss"] == pytest.approx(whole["loss"], rel=1e-5)
    assert chunked["acc"] == whole["acc"] and chunked["completions"] == whole["completions"] == 28
    for a, b in zip(pw, pc):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)


def test_bias_is_estimated_on_a_seeded_sample_across_the_whole_file():
    from training.reward_eval import normalization_rows

    rows = [[torch.tensor([i])] for i in range(1000)]
    picked = [int(r[0]) for r in normalization_rows(rows, 128, seed=3)]
    assert len(picked) == 128 and picked == sorted(set(picked))
    assert max(picked) >= 500  # not the oldest rankings only
    assert picked == [int(r[0]) for r in normalization_rows(rows, 128, seed=3)]  # every process picks the same
    assert normalization_rows(rows[:5], 128, seed=3) == rows[:5]
    with pytest.raises(Exception, match="normalize_max_rows must be >= 1"):
        reward.RewardConfig(model="x", data="y", output_dir="z", normalize_max_rows=0)
