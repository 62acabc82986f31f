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


def test_win_rate_of_a_policy_against_itself_is_one_half(tiny_model_dir, reward_model_dir, tmp_path):
    prompts = make_prompts(tmp_path / "p.jsonl", n=3)
    code = cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--prompts", str(prompts),
                     "--policy_a", str(tiny_model_dir), "--policy_b", str(tiny_model_dir), "--max_new_tokens", "6",
                     "--output", str(tmp_path / "wr.json")])
    assert code == 0
    result = json.loads((tmp_path / "wr.json").read_text())
    assert result["win_rate_b_over_a"] == 0.5  # greedy: identical outputs, every prompt a tie
    assert len(result["items"]) == 3 and all(i["a"] == i["b"] for i in result["items"])


def test_evaluate_needs_one_complete_mode(reward_model_dir, tmp_path, capsys):
    code = cli.main(["evaluate", "--reward_model", str(reward_model_dir), "--prompts", "x.jsonl"])
    assert code == 2 and "give either --comparisons" in capsys.readouterr().err
