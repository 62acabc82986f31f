"""Config parsing, data validation, run outputs, CLI dispatch and import hygiene (no model training)."""

import json
import subprocess
import sys
from dataclasses import dataclass, field

import pytest
import torch

from helpers import REPO, comparison_rows, make_comparisons, make_sft, write_jsonl
from training import cli
from training.config import RunConfig, parse_config
from training.data import (load_snapshot, ranking_pairs, read_jsonl, to_pairwise, validate_comparison_row,
                           validate_sft_row)
from training.errors import TrainingInputError
from training.modeling import check_model_dir, pick_device, pick_dtype
from training.checkpoints import list_checkpoints, load_latest_checkpoint, save_checkpoint
from training.runio import RunWriter, atomic_directory


@dataclass(kw_only=True)
class DemoConfig(RunConfig):
    """A RunConfig subclass as a trainer would declare one."""

    data: str = field(metadata={"help": "input"})
    beta: float = field(default=0.1, metadata={"help": "a float"})


# ---------------------------------------------------------------- config

def test_config_from_flags_accepts_both_spellings():
    cfg = parse_config(DemoConfig, ["--model", "tiny", "--output-dir", "o", "--data", "d", "--max_steps", "7",
                                    "--resume"])
    assert (cfg.model, cfg.output_dir, cfg.max_steps, cfg.resume, cfg.beta) == ("tiny", "o", 7, True, 0.1)


@pytest.mark.parametrize("suffix", [".json", ".yaml"])
def test_config_file_then_flags_override(tmp_path, suffix):
    values = {"model": "tiny", "output_dir": "o", "data": "d", "max_steps": 5, "beta": 0.5}
    path = tmp_path / f"run{suffix}"
    path.write_text(json.dumps(values))  # JSON is valid YAML too
    cfg = parse_config(DemoConfig, ["--config", str(path), "--max_steps", "9"])
    assert (cfg.max_steps, cfg.beta, cfg.data) == (9, 0.5, "d")


def test_config_file_unknown_key_and_bad_type(tmp_path):
    path = tmp_path / "run.json"
    path.write_text(json.dumps({"model": "t", "output_dir": "o", "data": "d", "max_stepz": 5}))
    with pytest.raises(TrainingInputError, match="unknown config key.*max_stepz"):
        parse_config(DemoConfig, ["--config", str(path)])
    path.write_text(json.dumps({"model": "t", "output_dir": "o", "data": "d", "max_steps": "ten"}))
    with pytest.raises(TrainingInputError, match=r"run\.json: max_steps: invalid value 'ten'"):
        parse_config(DemoConfig, ["--config", str(path)])
    path.write_text(json.dumps({"model": "t", "output_dir": "o", "data": "d", "max_steps": 2.5}))
    with pytest.raises(TrainingInputError, match="max_steps must be an integer"):
        parse_config(DemoConfig, ["--config", str(path)])


def test_config_missing_required_flag_exits_2(capsys):
    with pytest.raises(SystemExit) as exc:
        parse_config(DemoConfig, ["--model", "tiny", "--output_dir", "o"])
    assert exc.value.code == 2
    assert "--data" in capsys.readouterr().err


def test_config_rejects_nonpositive_steps():
    with pytest.raises(TrainingInputError, match="max_steps must be > 0"):
        parse_config(DemoConfig, ["--model", "t", "--output_dir", "o", "--data", "d", "--max_steps", "0"])


# ---------------------------------------------------------------- data

def test_read_jsonl_errors_name_file_and_line(tmp_path):
    with pytest.raises(TrainingInputError, match="file not found"):
        read_jsonl(tmp_path / "nope.jsonl")
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"a": 1}\n\n{"a": 2\n')
    with pytest.raises(TrainingInputError, match=r"bad\.jsonl:3: invalid JSON"):
        read_jsonl(bad)
    bad.write_text('{"a": 1}\n[1, 2]\n')
    with pytest.raises(TrainingInputError, match=r"bad\.jsonl:2: expected a JSON object, got list"):
        read_jsonl(bad)
    bad.write_text("\n")
    with pytest.raises(TrainingInputError, match="no rows"):
        read_jsonl(bad)


def test_ranking_partition_rules():
    row = comparison_rows(1, k=4)[0]
    row["ranking"] = [[2], [0, 3], [1]]
    assert validate_comparison_row(row) is row
    for bad in ([[0], [1], [2]], [[0, 1], [1, 2, 3]], [[0, 1, 2, 3, 4]], [[0], [], [1, 2, 3]], [[0, 1, 2, "3"]]):
        row["ranking"] = bad
        with pytest.raises(TrainingInputError, match="ranking"):
            validate_comparison_row(row, "f.jsonl:3")


def test_comparison_row_needs_two_completions_and_user_prompt():
    row = comparison_rows(1, k=2)[0]
    with pytest.raises(TrainingInputError, match="at least 2"):
        validate_comparison_row({**row, "completions": ["only one"], "ranking": [[0]]})
    with pytest.raises(TrainingInputError, match="end with a user message"):
        validate_comparison_row({**row, "prompt": [{"role": "assistant", "content": "hi"}]})


def test_sft_row_validation():
    good = {"messages": [{"role": "user", "content": "q"}, {"role": "assistant", "content": "a"}]}
    assert validate_sft_row(good) is good
    with pytest.raises(TrainingInputError, match="last message must be a non-empty assistant"):
        validate_sft_row({"messages": good["messages"][:1]})
    with pytest.raises(TrainingInputError, match=r"messages\[0\]"):
        validate_sft_row({"messages": [{"role": "robot", "content": "q"}, good["messages"][1]]})


def test_ranking_pairs_ties_give_no_pair():
    assert ranking_pairs([[2], [0, 3], [1]]) == [(2, 0), (2, 3), (2, 1), (0, 1), (3, 1)]
    assert ranking_pairs([[0, 1, 2]]) == []
    rows = comparison_rows(2, k=3)
    pairs = to_pairwise(rows)
    assert len(pairs) == 6
    first = rows[0]
    w, l = ranking_pairs(first["ranking"])[0]
    assert pairs[0]["chosen"][0]["content"] == first["completions"][w]
    assert pairs[0]["rejected"][0]["content"] == first["completions"][l]
    assert pairs[0]["prompt"] == first["prompt"]


def test_load_snapshot_folder_and_file(tmp_path):
    snap = load_snapshot(make_comparisons(tmp_path / "c", n=8), "comparisons")
    assert (len(snap.train), len(snap.valid)) == (6, 2)
    assert len(snap.files) == 3 and all(len(h) == 64 for h in snap.files.values())
    single = load_snapshot(make_sft(tmp_path / "s.jsonl", n=3, folder=False), "sft")
    assert len(single.train) == 3 and single.valid == []
    with pytest.raises(TrainingInputError, match="snapshot kind is 'comparisons'"):
        load_snapshot(tmp_path / "c", "sft")
    with pytest.raises(TrainingInputError, match="no manifest.json"):
        (tmp_path / "empty").mkdir()
        load_snapshot(tmp_path / "empty", "sft")


def test_manifest_sha256_mismatch_is_reported(tmp_path):
    folder = make_sft(tmp_path / "s", n=2)
    manifest = json.loads((folder / "manifest.json").read_text())
    manifest["sha256"] = {"train.jsonl": "0" * 64}
    (folder / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(TrainingInputError, match="sha256 does not match"):
        load_snapshot(folder, "sft")


# ---------------------------------------------------------------- runio

def test_atomic_directory_leaves_nothing_on_failure(tmp_path):
    final = tmp_path / "model"
    with pytest.raises(RuntimeError):
        with atomic_directory(final) as tmp:
            (tmp / "half.bin").write_text("x")
            raise RuntimeError("crash mid-save")
    assert list(tmp_path.iterdir()) == []
    with atomic_directory(final) as tmp:
        (tmp / "ok").write_text("1")
    with atomic_directory(final) as tmp:  # replacing an existing folder
        (tmp / "ok").write_text("2")
    assert (final / "ok").read_text() == "2" and len(list(tmp_path.iterdir())) == 1


def test_checkpoints_keep_last_good_and_roundtrip(tmp_path, monkeypatch):
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.ones(1, 3)).sum().backward()
    opt.step()
    save_checkpoint(tmp_path, 5, model, opt, extra={"seen": 10})
    save_checkpoint(tmp_path, 10, model, opt, extra={"seen": 20})
    assert [p.name for p in list_checkpoints(tmp_path)] == ["step-00000010"]

    # a crash while writing step 15 keeps step 10 loadable
    monkeypatch.setattr(torch, "save", lambda *a, **k: (_ for _ in ()).throw(OSError("disk full")))
    with pytest.raises(OSError):
        save_checkpoint(tmp_path, 15, model, opt)
    monkeypatch.undo()
    ckpt = load_latest_checkpoint(tmp_path)
    assert ckpt["step"] == 10 and ckpt["extra"] == {"seen": 20}
    fresh = torch.nn.Linear(3, 2)
    fresh.load_state_dict(ckpt["model"]["model"])
    assert torch.equal(fresh.weight, model.weight)
    assert ckpt["optimizer"]["state"] and "torch" in ckpt["rng_state"]
    assert load_latest_checkpoint(tmp_path / "none") is None


def test_run_writer_metrics_truncate_and_result(tmp_path):
    writer = RunWriter(tmp_path / "run")
    for step in (1, 2, 3):
        writer.log(step, step / 3, loss=torch.tensor(1.0 / step), lr=0.1, tokens_per_s=float("nan"), acc=0.5)
    writer.truncate_after(2)
    rows = [json.loads(x) for x in writer.metrics_path.read_text().splitlines()]
    assert [r["step"] for r in rows] == [1, 2] and rows[1]["loss"] == 0.5 and rows[0]["tokens_per_s"] is None
    result = writer.write_result(command="demo", config={"a": 1}, inputs={"f": "abc"}, summary={"x": 1})
    on_disk = json.loads(writer.result_path.read_text())
    assert on_disk == json.loads(json.dumps(result)) and on_disk["status"] == "succeeded"


# ---------------------------------------------------------------- modeling / cli / imports

def test_run_folder_resolves_to_its_model(tmp_path):
    from training.modeling import resolve_model

    model = tmp_path / "run" / "model"
    model.mkdir(parents=True)
    (model / "config.json").write_text("{}")
    (model / "tokenizer.json").write_text("{}")
    assert resolve_model(tmp_path / "run") == model


def test_model_folder_without_tokenizer(tmp_path):
    (tmp_path / "config.json").write_text("{}")
    with pytest.raises(TrainingInputError, match="no tokenizer"):
        check_model_dir(tmp_path)
    with pytest.raises(TrainingInputError, match="neither a folder nor a registered name"):
        check_model_dir(tmp_path / "missing")


def test_device_and_dtype_choice():
    assert pick_dtype(torch.device("cpu")) == torch.float32
    assert pick_device("cpu").type == "cpu"
    if not torch.cuda.is_available():
        assert pick_device("auto").type == "cpu"
        with pytest.raises(TrainingInputError, match="CUDA is not available"):
            pick_device("cuda")


def test_cli_help_and_unknown_command(capsys):
    assert cli.main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in ("sft", "reward", "ppo", "dpo", "generate", "evaluate", "prepare-model"):
        assert f"  {name} " in out
    assert cli.main(["train-everything"]) == 2
    assert "unknown command" in capsys.readouterr().err


def test_cli_input_error_is_one_line_exit_2(tmp_path):
    bad = write_jsonl(tmp_path / "sft.jsonl", [{"messages": []}])
    proc = subprocess.run([sys.executable, "-m", "training", "sft", "--model", "tiny", "--data", str(bad),
                           "--output_dir", str(tmp_path / "o")], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip() == f"error: {bad}:1: messages must be a non-empty list of messages"


def test_importing_training_pulls_in_no_django():
    code = (
        "import importlib, pkgutil, sys, training\n"
        "mods = [m.name for m in pkgutil.walk_packages(training.__path__, 'training.')]\n"
        "for name in mods: importlib.import_module(name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('django', 'labeling', 'config', 'celery'))\n"
        "print(len(mods), bad)\n"
        "assert not bad, bad\n"
    )
    proc = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert int(proc.stdout.split()[0]) >= 10  # really walked the package
