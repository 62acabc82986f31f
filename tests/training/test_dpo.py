"""DPO end to end on the tiny model, and its input errors."""

import torch
from safetensors.torch import load_file

from helpers import comparison_rows, make_comparisons, read_metrics, read_result, run_cli, write_jsonl
from training import cli


def test_dpo_cli_trains_on_all_ranking_pairs(tiny_model_dir, tmp_path):
    data = make_comparisons(tmp_path / "snap", n=8, k=3, ties=True)  # 6 train rows, one tie each
    out = tmp_path / "run"
    proc = run_cli("dpo", "--model", tiny_model_dir, "--data", data, "--output_dir", out, "--max_steps", "4",
                   "--batch_size", "4", "--logging_steps", "2", "--learning_rate", "1e-3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [2, 4]
    assert all(0 < r["loss"] < 5 and "rewards_margins" in r and r["tokens_per_s"] > 0 for r in rows)
    result = read_result(out)
    assert result["summary"]["train_pairs"] == 6 * 2  # [[a], [b, c]] gives (a,b), (a,c); the tie gives none
    assert result["summary"]["eval_loss"] is not None
    before, after = load_file(str(tiny_model_dir / "model.safetensors")), load_file(str(out / "model" /
                                                                                         "model.safetensors"))
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_dpo_rejects_ranking_that_is_not_a_partition(tiny_model_dir, tmp_path, capsys):
    rows = comparison_rows(3, k=3)
    rows[1]["ranking"] = [[0], [1], [1]]
    data = write_jsonl(tmp_path / "cmp.jsonl", rows)
    code = cli.main(["dpo", "--model", str(tiny_model_dir), "--data", str(data), "--output_dir",
                     str(tmp_path / "run")])
    assert code == 2
    assert capsys.readouterr().err.startswith(f"error: {data}:2: ranking [[0], [1], [1]] is not a partition")


def test_dpo_all_ties_has_nothing_to_learn(tiny_model_dir, tmp_path, capsys):
    rows = comparison_rows(2, k=2)
    for r in rows:
        r["ranking"] = [[0, 1]]
    data = write_jsonl(tmp_path / "cmp.jsonl", rows)
    code = cli.main(["dpo", "--model", str(tiny_model_dir), "--data", str(data), "--output_dir",
                     str(tmp_path / "run")])
    assert code == 2 and "no (chosen, rejected) pair" in capsys.readouterr().err
