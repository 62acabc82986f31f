"""SFT end to end on the tiny model: outputs, loss on the demonstration only, resume, bad input."""

import json

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from helpers import make_sft, read_metrics, read_result, run_cli, sft_rows, write_jsonl
from training import cli
from training.config import parse_config
from training.sft import SFTRunConfig, build_trainer, run


def sft_config(model_dir, data, out, *extra):
    """Small, fast settings: 12 rows, batch 4, 6 steps, log every 2, checkpoint every 2."""
    argv = ["--model", str(model_dir), "--data", str(data), "--output_dir", str(out), "--max_steps", "6",
            "--batch_size", "4", "--logging_steps", "2", "--save_steps", "2", "--learning_rate", "1e-3",
            "--device", "cpu", *map(str, extra)]
    return parse_config(SFTRunConfig, argv)


def weights(model_dir):
    return load_file(str(model_dir / "model.safetensors"))


def test_sft_cli_writes_model_metrics_result(tiny_model_dir, tmp_path):
    data = make_sft(tmp_path / "snap", n=12)
    out = tmp_path / "run"
    proc = run_cli("sft", "--model", tiny_model_dir, "--data", data, "--output_dir", out, "--max_steps", "4",
                   "--batch_size", "4", "--logging_steps", "2", "--learning_rate", "1e-3")
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [2, 4]
    assert [r["progress"] for r in rows] == [0.5, 1.0]
    assert all(r["loss"] > 0 and r["lr"] > 0 and r["tokens_per_s"] > 0 for r in rows)
    assert rows[1]["loss"] < rows[0]["loss"]  # lr 1e-3 on 12 repeated rows: it must learn something
    result = read_result(out)
    assert result["status"] == "succeeded" and result["summary"]["steps"] == 4
    assert set(result["inputs"]) == {str(data / n) for n in ("manifest.json", "train.jsonl", "valid.jsonl")}
    assert result["config"]["max_steps"] == 4 and result["metrics"]["step"] == 4
    assert (out / "model" / "prefloop.json").is_file() and (out / "model" / "tokenizer.json").is_file()
    before, after = weights(tiny_model_dir), weights(out / "model")
    changed = [k for k in before if not torch.equal(before[k], after[k])]
    assert len(changed) >= len(before) // 2, "training should move most tensors"
    from transformers import AutoModelForCausalLM

    AutoModelForCausalLM.from_pretrained(out / "model")  # loadable as a plain HF model
    # saved for sampling: the KV cache the trainer switched off is on again for a client's generate()
    assert json.loads((out / "model" / "config.json").read_text())["use_cache"] is True


def test_loss_only_on_final_demonstration(tiny_model_dir, tmp_path):
    """Only the last assistant turn (+ its end-of-turn) is trained; an imported old reply is context."""
    rows = sft_rows(4)
    old_reply = {"role": "assistant", "content": "An old model's reply that must not be trained."}
    rows[1]["messages"] = [rows[1]["messages"][0], old_reply, {"role": "user", "content": "Try again, shorter."},
                           rows[1]["messages"][-1]]
    data = write_jsonl(tmp_path / "sft.jsonl", rows)
    cfg = sft_config(tiny_model_dir, data, tmp_path / "run")
    from training.data import load_snapshot
    from training.runio import RunWriter

    snap = load_snapshot(data, "sft")
    trainer = build_trainer(cfg, snap, tiny_model_dir, RunWriter(cfg.output_dir), torch.device("cpu"),
                            torch.float32)
    batch = next(iter(trainer.get_train_dataloader()))
    tok = trainer.processing_class
    trained = sorted(tok.decode(ids[labels != -100]) for ids, labels in zip(batch["input_ids"], batch["labels"]))
    # ChatML writes "\n" after <|im_end|>; it belongs to the completion, so it is trained too.
    expected = sorted(r["messages"][-1]["content"] + "<|im_end|>\n" for r in snap.train)
    assert trained == expected
    full = [tok.decode(ids[mask.bool()]) for ids, mask in zip(batch["input_ids"], batch["attention_mask"])]
    assert sum(old_reply["content"] in text for text in full) == 1, "the old reply stays in the prompt"


def test_overlong_prompt_rows_are_dropped_and_reported(tiny_model_dir, tmp_path, capsys):
    rows = sft_rows(8)
    long_prompt = {"role": "user", "content": " ".join(f"word{i}" for i in range(400))}
    for i in (2, 5):
        rows[i]["messages"] = [long_prompt, rows[i]["messages"][-1]]
    data = write_jsonl(tmp_path / "sft.jsonl", rows)
    result = run(sft_config(tiny_model_dir, data, tmp_path / "run", "--max_length", "128", "--max_steps", "2"))
    err = capsys.readouterr().err
    assert "warning: sft: dropped 2 of 8 train rows" in err and "rows 3, 6" in err
    assert result["summary"]["rows_dropped_too_long"] == 2 and result["summary"]["train_rows"] == 6
    assert read_result(tmp_path / "run")["summary"]["rows_dropped_too_long"] == 2

    only_long = write_jsonl(tmp_path / "long.jsonl", [rows[2], rows[5]])
    out = tmp_path / "run2"
    code = cli.main(["sft", "--model", str(tiny_model_dir), "--data", str(only_long), "--output_dir", str(out),
                     "--max_length", "128", "--device", "cpu"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {only_long}: every train row's prompt takes >= 128 tokens") and err.count("\n") == 1
    assert not out.exists(), "nothing may be written before the input is validated"


class Preempted(RuntimeError):
    """Stands in for a crash or a killed worker in the middle of training."""


class CrashAt(TrainerCallback):
    def __init__(self, step):
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step == self.step:
            raise Preempted(f"crash at step {self.step}")


def test_resume_after_crash_lands_where_uninterrupted_run_lands(tiny_model_dir, tmp_path):
    data = make_sft(tmp_path / "snap", n=12)
    run(sft_config(tiny_model_dir, data, tmp_path / "straight"))

    crashed = tmp_path / "crashed"
    with pytest.raises(Preempted):
        run(sft_config(tiny_model_dir, data, crashed), callbacks=[CrashAt(5)])
    assert not (crashed / "model").exists() and not (crashed / "result.json").exists()
    assert [p.name for p in (crashed / "checkpoints").glob("checkpoint-*")] == ["checkpoint-4"]

    run(sft_config(tiny_model_dir, data, crashed, "--resume"))
    straight_w, resumed_w = weights(tmp_path / "straight" / "model"), weights(crashed / "model")
    for name, tensor in straight_w.items():
        torch.testing.assert_close(resumed_w[name], tensor, rtol=1e-5, atol=1e-6)
    straight_m, resumed_m = read_metrics(tmp_path / "straight"), read_metrics(crashed)
    assert [r["step"] for r in resumed_m] == [2, 4, 6]
    for a, b in zip(straight_m, resumed_m):
        assert a["loss"] == pytest.approx(b["loss"], rel=1e-5)


def test_packing_trains(tiny_model_dir, tmp_path):
    data = write_jsonl(tmp_path / "sft.jsonl", sft_rows(8))
    result = run(sft_config(tiny_model_dir, data, tmp_path / "run", "--packing", "--max_length", "128"))
    assert result["summary"]["steps"] == 6
    assert all(r["loss"] is not None and r["loss"] > 0 for r in read_metrics(tmp_path / "run"))


@pytest.mark.parametrize("case", ["missing", "bad_json", "bad_row", "empty", "no_tokenizer"])
def test_bad_input_stops_before_training(tiny_model_dir, tmp_path, capsys, case):
    data = tmp_path / "sft.jsonl"
    model = tiny_model_dir
    if case == "bad_json":
        data.write_text(json.dumps(sft_rows(1)[0]) + "\n{oops\n")
        expected = f"{data}:2: invalid JSON"
    elif case == "bad_row":
        write_jsonl(data, sft_rows(2) + [{"messages": [{"role": "user", "content": "no answer"}]}])
        expected = f"{data}:3: last message must be a non-empty assistant demonstration"
    elif case == "empty":
        data.write_text("")
        expected = f"{data}: no rows (empty dataset)"
    elif case == "no_tokenizer":
        write_jsonl(data, sft_rows(2))
        model = tmp_path / "half-model"
        model.mkdir()
        (model / "config.json").write_text((tiny_model_dir / "config.json").read_text())
        expected = f"{model}: model folder has no tokenizer"
    else:
        expected = f"{data}: snapshot not found"
    out = tmp_path / "run"
    code = cli.main(["sft", "--model", str(model), "--data", str(data), "--output_dir", str(out)])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith(f"error: {expected}") and err.count("\n") == 1
    assert not out.exists(), "nothing may be written before the input is validated"
