"""Generation: batched vs one-at-a-time, seeding, output format."""

import json

import pytest
import torch

from helpers import make_prompts, prompt_messages, run_cli
from training import cli
from training.generate import GenerationSettings, generate_completions, row_seed
from training.modeling import load_causal_lm, load_tokenizer


@pytest.fixture(scope="module")
def tiny(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir, padding_side="left")
    model = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32).eval()
    return model, tok


def mixed_prompts(n):
    """Prompts of different lengths, so batches really contain left padding."""
    extra = [{"role": "assistant", "content": "Sure."}, {"role": "user", "content": "Make it longer, please."}]
    return [prompt_messages(i) + (extra if i % 2 else []) for i in range(n)]


@pytest.mark.parametrize("temperature", [0.0, 1.0])
def test_batched_equals_one_at_a_time(tiny, temperature):
    model, tok = tiny
    prompts = mixed_prompts(6)
    settings = GenerationSettings(k=2, temperature=temperature, max_new_tokens=12, seed=7)
    batched = generate_completions(model, tok, prompts, settings, batch_size=12)
    other_batching = generate_completions(model, tok, prompts, settings, batch_size=5)
    single = [generate_completions(model, tok, [p], settings, batch_size=1, indices=[i])[0]
              for i, p in enumerate(prompts)]
    assert batched == single == other_batching
    assert all(len(c) == 2 and all(isinstance(t, str) for t in c) for c in batched)


def test_greedy_matches_hf_generate(tiny):
    model, tok = tiny
    prompt = mixed_prompts(1)[0]
    ours = generate_completions(model, tok, [prompt], GenerationSettings(k=1, temperature=0.0, max_new_tokens=10))
    ids = tok.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    ref = model.generate(**ids, max_new_tokens=10, do_sample=False, pad_token_id=tok.pad_token_id)
    assert ours[0][0] == tok.decode(ref[0, ids["input_ids"].shape[1]:], skip_special_tokens=True).strip()


def test_seed_controls_samples(tiny):
    model, tok = tiny
    prompts = mixed_prompts(3)
    s0 = GenerationSettings(k=3, temperature=1.0, max_new_tokens=10, seed=0)
    s1 = GenerationSettings(k=3, temperature=1.0, max_new_tokens=10, seed=1)
    a, b = generate_completions(model, tok, prompts, s0), generate_completions(model, tok, prompts, s0)
    c = generate_completions(model, tok, prompts, s1)
    assert a == b and a != c
    assert len({t for row in a for t in row}) > 3, "K samples of a random model should differ"
    assert row_seed(0, 1, 2) != row_seed(0, 2, 1)


def test_generate_cli_output_rows(tiny_model_dir, tmp_path):
    prompts = make_prompts(tmp_path / "prompts", n=3, folder=True)
    outs = []
    for name in ("a.jsonl", "b.jsonl"):
        proc = run_cli("generate", "--model", tiny_model_dir, "--prompts", prompts, "--output", tmp_path / name,
                       "--k", "2", "--max_new_tokens", "8", "--seed", "3", "--batch_size", "4")
        assert proc.returncode == 0, proc.stderr[-3000:]
        outs.append((tmp_path / name).read_text())
    assert outs[0] == outs[1]
    rows = [json.loads(line) for line in outs[0].splitlines()]
    assert [r["prompt_id"] for r in rows] == ["p0", "p1", "p2"]
    assert all(len(r["completions"]) == 2 for r in rows)
    assert rows[0]["settings"] == {"k": 2, "temperature": 1.0, "top_p": 1.0, "max_new_tokens": 8, "seed": 3}
    assert rows[0]["model"] == str(tiny_model_dir)
    # Progress for the job runner, which tails metrics.jsonl in the output's folder: two runs appended rows.
    progress = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    first_run = progress[: len(progress) // 2]
    assert first_run[0]["progress"] == 0.0 and first_run[-1] == {**first_run[-1], "progress": 1.0, "prompts_done": 3}
    assert [r["step"] for r in first_run] == list(range(len(first_run))) and len(first_run) >= 3  # 6 seqs / 4


def test_generate_bad_prompt_row(tiny_model_dir, tmp_path, capsys):
    path = tmp_path / "p.jsonl"
    path.write_text(json.dumps({"prompt": [{"role": "user", "content": "hi"}]}) + "\n" + json.dumps({"x": 1}) + "\n")
    code = cli.main(["generate", "--model", str(tiny_model_dir), "--prompts", str(path), "--output",
                     str(tmp_path / "o.jsonl")])
    assert code == 2 and capsys.readouterr().err.startswith(f"error: {path}:2: prompt must be a non-empty list")


@pytest.mark.parametrize("scale", [4.0, 0.01])  # peaked (top-k shortcut) and nearly flat (full-sort fallback)
def test_nucleus_matches_full_sort(scale):
    from training.generate import nucleus

    probs = torch.softmax(torch.randn(8, 5000, generator=torch.Generator().manual_seed(0)) * scale, dim=-1)
    vals, ids = nucleus(probs, 0.9, k=64)
    ref, _ = probs.sort(dim=-1, descending=True)
    ref = ref.masked_fill((ref.cumsum(-1) - ref) >= 0.9, 0.0)
    kept = (vals > 0).sum(-1)
    assert torch.equal(kept, (ref > 0).sum(-1))
    assert torch.allclose(vals.sum(-1), ref.sum(-1)) and (vals.sum(-1) >= 0.9 - 1e-6).all()
    assert torch.equal(probs.gather(-1, ids)[vals > 0], vals[vals > 0])


def test_samples_with_the_kv_cache_even_when_the_saved_config_turns_it_off(tiny_model_dir):
    """A trainer saves use_cache=false; sampling must still feed one new token per step, not the whole text."""
    tok = load_tokenizer(tiny_model_dir, padding_side="left")
    model = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32).eval()
    model.config.use_cache = False
    widths = []
    hook = model.model.register_forward_pre_hook(lambda _m, _a, kw: widths.append(kw["input_ids"].shape[1]),
                                                 with_kwargs=True)
    try:
        generate_completions(model, tok, mixed_prompts(2), GenerationSettings(k=1, temperature=0.0, max_new_tokens=6))
    finally:
        hook.remove()
    assert widths[0] > 1 and set(widths[1:]) == {1}, widths
