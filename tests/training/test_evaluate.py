"""Evaluate: RM pairwise accuracy and policy win rate, against hand-computable answers."""

import json

import pytest
import torch

from helpers import make_prompts, run_cli, comparison_rows, write_jsonl
from training import cli


@pytest.fixture(scope="module")
def reward_model_dir(tiny_model_dir, tmp_path_factory):
    """An untrained (randomly initialised head) reward model saved in the RL helper's format."""
    from training.reward_model import init_reward_model

    path = tmp_path_factory.mktemp("rm") / "model"
    torch.manual_seed(0)
    init_reward_model(tiny_model_dir, "cpu", torch.float32).save_pretrained(path)
    return path


def test_accuracy_is_one_when_labels_follow_the_rm_and_zero_when_reversed(reward_model_dir, tmp_path):
    from training.reward_model import load_reward_model

    rm = load_reward_model(reward_model_dir, "cpu", torch.float32)
    rows = comparison_rows(5, k=3)
    for row in rows:
        scores = rm.score([row["prompt"]] * 3, row["completions"])
        row["ranking"] = [[i] for i in sorted(range(3), key=lambda i: -scores[i])]
    reversed_rows = [{**r, "ranking": r["ranking"][::-1]} for r in rows]
    for rows_, expected in ((rows, 1.0), (reversed_rows, 0.0)):
        path = write_jsonl(tmp_path / f"cmp{expected}.jsonl", rows_)
        proc = run_cli("evaluate", "--reward-model", reward_model_dir, "--comparisons", path)
        assert proc.returncode == 0, proc.stderr[-3000:]
        result = json.loads(proc.stdout)
        assert result["accuracy"] == expected and result["pairs"] == 15 and result["completions_scored"] == 15
        assert result["n_pairs"] == 15 and result["split"] == "file"
        assert result["ci_low"] == result["ci_high"] == expected  # every ranking agrees: no spread to resample


def test_win_rate_of_a_policy_against_itself_is_one_half(tiny_model_dir, reward_model_dir, tmp_path):
    prompts = make_prompts(tmp_path / "p.jsonl", n=3)
    code = cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--prompts", str(prompts),
                     "--policy_a", str(tiny_model_dir), "--policy_b", str(tiny_model_dir), "--max_new_tokens", "6",
                     "--output", str(tmp_path / "wr.json")])
    assert code == 0
    result = json.loads((tmp_path / "wr.json").read_text())
    # Same model, same seeds: every sample of B is the sample of A, so every pair is an explicit tie.
    assert result["win_rate_b_over_a"] == 0.5 and result["n_pairs"] == 12  # 3 prompts x 4 samples
    assert result["identical"] == result["ties"] == 12 and result["wins_a"] == result["wins_b"] == 0
    assert result["split"] == "file" and result["judge"] == str(reward_model_dir)
    assert "half" in result["tie_rule"] and "bootstrap" in result["ci_method"]
    assert result["ci_low"] == result["ci_high"] == 0.5
    assert len(result["items"]) == 12 and all(i["a"] == i["b"] for i in result["items"])
    rows = [json.loads(x) for x in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert rows[-1]["progress"] == 1.0 and rows[-1]["prompts_done"] == 3
    assert [r["progress"] for r in rows] == sorted(r["progress"] for r in rows)


def test_evaluate_needs_one_complete_mode(reward_model_dir, tmp_path, capsys):
    code = cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--prompts", "x.jsonl"])
    assert code == 2 and "give either --comparisons" in capsys.readouterr().err


def test_accuracy_defaults_to_the_held_out_split_and_refuses_to_fall_back(reward_model_dir, tmp_path, capsys):
    from helpers import write_snapshot

    rows = comparison_rows(6, k=3)
    snap = write_snapshot(tmp_path / "cmp", "comparisons", rows[:4], rows[4:])
    code = cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--comparisons", str(snap),
                     "--output", str(tmp_path / "acc.json")])
    assert code == 0
    result = json.loads((tmp_path / "acc.json").read_text())
    assert result["split"] == "valid" and result["rows"] == 2 and result["n_pairs"] == 6
    assert 0 <= result["ci_low"] <= result["accuracy"] <= result["ci_high"] <= 1
    no_valid = write_snapshot(tmp_path / "cmp2", "comparisons", rows, [])
    capsys.readouterr()
    assert cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--comparisons", str(no_valid)]) == 2
    assert "no valid (held-out) rows" in capsys.readouterr().err


def test_win_rate_counts_wins_ties_and_identical_texts_explicitly():
    from training.eval_stats import win_rate_summary

    groups = [[("same", "same", 0.1, 0.2), ("x", "y", 1.0, 2.0)],  # identical texts tie whatever the scores
              [("p", "q", 3.0, 1.0), ("r", "s", 0.5, 0.5)]]  # A wins; equal scores tie
    s = win_rate_summary(groups)
    assert (s["wins_a"], s["wins_b"], s["ties"], s["identical"], s["n_pairs"]) == (1, 1, 2, 1, 4)
    assert s["win_rate_b_over_a"] == 0.5
    assert s["ci_low"] <= 0.5 <= s["ci_high"]


def test_greedy_win_rate_takes_one_sample_per_prompt(tiny_model_dir, reward_model_dir, tmp_path, capsys):
    prompts = make_prompts(tmp_path / "p.jsonl", n=2)
    code = cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--prompts", str(prompts), "--policy_a",
                     str(tiny_model_dir), "--policy_b", str(tiny_model_dir), "--temperature", "0",
                     "--max_new_tokens", "4", "--output", str(tmp_path / "wr.json")])
    assert code == 0 and "one sample per prompt" in capsys.readouterr().err
    result = json.loads((tmp_path / "wr.json").read_text())
    assert result["samples_per_prompt"] == 1 and result["n_pairs"] == 2 == result["identical"]
