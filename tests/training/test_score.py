"""Score: the judge's reward for given texts, exactly as the reward model scores them in-process."""

import json

import pytest
import torch

from helpers import prompt_messages, run_cli, write_jsonl
from test_evaluate import reward_model_dir  # noqa: F401  (the same untrained reward model fixture)


def test_scores_match_the_reward_model_in_input_order(reward_model_dir, tmp_path):
    from training.reward_model import load_reward_model

    rows = [{"id": 10 + i, "prompt": prompt_messages(i % 2), "completion": f"answer number {i} " * (i + 1)}
            for i in range(5)]
    proc = run_cli("score", "--reward_model", reward_model_dir, "--input", write_jsonl(tmp_path / "in.jsonl", rows),
                   "--output_dir", tmp_path / "out")
    assert proc.returncode == 0, proc.stderr[-3000:]
    scored = [json.loads(line) for line in (tmp_path / "out" / "scores.jsonl").read_text().splitlines()]
    rm = load_reward_model(reward_model_dir, "cpu", torch.float32)
    expected = rm.score([r["prompt"] for r in rows], [r["completion"] for r in rows])
    assert [s["id"] for s in scored] == [10, 11, 12, 13, 14]
    assert [s["score"] for s in scored] == pytest.approx(expected, abs=1e-4)
    assert json.loads((tmp_path / "out" / "result.json").read_text())["rows"] == 5


def test_a_bad_row_is_reported_with_its_line_number(reward_model_dir, tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"id": 1, "prompt": [{"role": "user", "content": "hi"}], "completion": "yo"}\n'
                    '{"id": 2, "prompt": "not a list", "completion": "yo"}\n')
    proc = run_cli("score", "--reward_model", reward_model_dir, "--input", path, "--output", tmp_path / "s.jsonl")
    assert proc.returncode == 2 and f"{path}:2: 'prompt' must be a non-empty list" in proc.stderr
    assert not (tmp_path / "s.jsonl").exists()
