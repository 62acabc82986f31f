"""Efficient training (issue 9): LoRA through peft, frozen trunks, threads, PPO trust signals, CLI edges."""

import json
import types

import pytest
import torch
from helpers import make_comparisons, make_sft, read_metrics, read_result, run_cli, write_snapshot
from safetensors.torch import load_file

from training import cli
from training.lora import AdaptersOff, add_adapters
from training.modeling import load_causal_lm
from training.ppo.advantages import k3_kl
from training.ppo.heldout import hacking_warning

LORA = types.SimpleNamespace(lora_rank=4, lora_alpha=8.0, lora_dropout=0.0, lora_target_modules="all-linear",
                             lora_layers=0)


def top_blocks_lora_policy(model_dir):
    """The tiny model with adapters on its top 2 blocks, as if trained (B no longer zero)."""
    policy = add_adapters(load_causal_lm(model_dir, torch.device("cpu"), torch.float32).eval(),
                          types.SimpleNamespace(**{**vars(LORA), "lora_layers": 2}))
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_(std=0.1)
    return policy


@pytest.fixture(scope="module")
def prompts_snapshot(tmp_path_factory):
    topics = ["the sea", "a cat", "the moon", "coffee", "a robot", "music", "rain", "a garden"]
    rows = [{"prompt": [{"role": "user", "content": f"Write one line about {t}."}]} for t in topics * 2]
    return write_snapshot(tmp_path_factory.mktemp("prompts") / "p", "prompts", rows[:12], rows[12:])


def test_reference_with_adapters_off_gives_exactly_the_base_logits(tiny_model_dir):
    base = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32).eval()
    ids = torch.randint(0, 500, (2, 12))
    with torch.no_grad():
        expected = base(input_ids=ids).logits.clone()
    policy = add_adapters(base, LORA)
    with torch.no_grad():
        for name, p in policy.named_parameters():
            if "lora_B" in name:
                p.normal_()  # trained adapters: the policy now differs from the base
        moved = policy(input_ids=ids).logits
        ref = AdaptersOff(policy)(input_ids=ids).logits
    assert not torch.allclose(moved, expected)
    torch.testing.assert_close(ref, expected, rtol=0, atol=0)
    assert not list(AdaptersOff(policy).parameters())  # no second copy of the weights


def test_replaying_the_frozen_lower_blocks_gives_the_full_forward_log_probs(tiny_model_dir):
    from training.ppo.prefix import FrozenPrefix
    from training.ppo.rollout import response_logprobs

    policy = top_blocks_lora_policy(tiny_model_dir)
    prefix = FrozenPrefix(policy, 2)
    query, response = torch.randint(5, 500, (3, 7)), torch.randint(5, 500, (3, 5))
    query_mask, response_mask = torch.ones_like(query), torch.ones_like(response)
    query_mask[0, :3], response_mask[1, 3:] = 0, 0  # left-padded prompt, response ended early
    args = (query, query_mask, response, response_mask)
    captured = []
    with prefix.capture(captured):
        full = response_logprobs(policy, *args, temperature=1.0, dtype=torch.float32)
    with prefix.replay(captured[0]):
        replayed = response_logprobs(policy, *args, temperature=1.0, dtype=torch.float32)
        replayed.sum().backward()  # gradients reach the adapters through the replayed forward
        ref = response_logprobs(AdaptersOff(policy), *args, temperature=1.0, dtype=torch.float32)
    torch.testing.assert_close(replayed, full, rtol=0, atol=0)
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in policy.named_parameters() if "lora_A" in n)
    torch.testing.assert_close(ref, response_logprobs(AdaptersOff(policy), *args, temperature=1.0,
                                                      dtype=torch.float32), rtol=0, atol=1e-6)
    assert len(prefix.decoder.layers) == 4  # the trunk is whole again after the replay


def test_k3_kl_is_never_negative_and_estimates_kl():
    torch.manual_seed(0)
    pi, ref = torch.randn(50).log_softmax(0), torch.randn(50).log_softmax(0)
    tokens = torch.multinomial(pi.exp(), 200_000, replacement=True)
    k3 = k3_kl(pi[tokens][None], ref[tokens][None], torch.ones(1, len(tokens)))
    k1 = pi[tokens] - ref[tokens]
    assert (k3 >= 0).all() and (k1 < 0).any()  # k1 goes negative per token, k3 never does
    exact = float((pi.exp() * (pi - ref)).sum())
    assert float(k3.mean()) == pytest.approx(exact, rel=0.05)
    same = k3_kl(torch.full((1, 3), -1.0), torch.full((1, 3), -1.0), torch.ones(1, 3))
    assert same.abs().max() == 0


def test_lora_sft_reward_ppo_write_merged_models_that_load_anywhere(tiny_model_dir, prompts_snapshot, tmp_path):
    lora = ["--lora_rank", "4", "--lora_alpha", "8", "--device", "cpu", "--save_steps", "0", "--logging_steps", "1"]
    sft, rm, ppo = tmp_path / "sft", tmp_path / "rm", tmp_path / "ppo"
    assert cli.main(["sft", "--model", str(tiny_model_dir), "--data", str(make_sft(tmp_path / "d", n=8)),
                     "--output_dir", str(sft), "--max_steps", "3", "--batch_size", "4", "--learning_rate", "1e-2",
                     *lora]) == 0
    assert cli.main(["reward", "--model", str(sft / "model"), "--data", str(make_comparisons(tmp_path / "c", n=8)),
                     "--output_dir", str(rm), "--max_steps", "3", "--batch_size", "4", "--learning_rate", "1e-2",
                     *lora]) == 0
    assert cli.main(["ppo", "--model", str(sft / "model"), "--reward_model", str(rm / "model"), "--prompts",
                     str(prompts_snapshot), "--output_dir", str(ppo), "--max_steps", "2", "--batch_size", "4",
                     "--mini_batch_size", "2", "--ppo_epochs", "1", "--max_new_tokens", "6",
                     "--learning_rate", "1e-2", "--freeze_value_trunk", "--lora_layers", "2", *lora]) == 0
    base = load_file(tiny_model_dir / "model.safetensors")
    for out in (sft, ppo):
        weights = load_file(out / "model" / "model.safetensors")
        assert weights.keys() == base.keys()  # merged: a plain model, no lora_A / lora_B tensors
        assert any(not torch.equal(weights[k], base[k]) for k in base)
        assert json.loads((out / "model" / "prefloop.json").read_text())["lora_merged"] is True
    assert not any("lora" in k for k in load_file(rm / "model" / "model.safetensors"))
    summary = read_result(rm)["summary"]
    assert 0 < summary["trainable_parameters"] < summary["total_parameters"] / 4
    # Downstream commands load the merged folders like any model.
    proc = run_cli("generate", "--model", ppo / "model", "--prompts", prompts_snapshot, "--output",
                   tmp_path / "gen" / "out.jsonl", "--k", "1", "--max_new_tokens", "4", "--threads", "1")
    assert proc.returncode == 0, proc.stderr[-2000:]


def test_reward_freeze_trunk_trains_the_head_only(tiny_model_dir, tmp_path):
    out = tmp_path / "rm"
    assert cli.main(["reward", "--model", str(tiny_model_dir), "--data", str(make_comparisons(tmp_path / "c", n=8)),
                     "--output_dir", str(out), "--max_steps", "2", "--batch_size", "4", "--learning_rate", "1e-2",
                     "--freeze_trunk", "--device", "cpu", "--save_steps", "0"]) == 0
    trained, base = load_file(out / "model" / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    for key, value in trained.items():
        if key != "score.weight":
            torch.testing.assert_close(value, base[key], rtol=0, atol=0)
    assert read_result(out)["summary"]["trainable_parameters"] == trained["score.weight"].numel()


def test_ppo_logs_step_zero_held_out_reward_samples_and_diagnostics(tiny_model_dir, prompts_snapshot, tmp_path):
    out = tmp_path / "ppo"
    assert cli.main(["ppo", "--model", str(tiny_model_dir), "--reward_fn", "length", "--prompts",
                     str(prompts_snapshot), "--output_dir", str(out), "--max_steps", "2", "--batch_size", "4",
                     "--mini_batch_size", "2", "--ppo_epochs", "1", "--max_new_tokens", "6", "--eval_steps", "1",
                     "--samples_logged", "2", "--device", "cpu", "--logging_steps", "1", "--save_steps", "0"]) == 0
    rows = read_metrics(out)
    assert [r["step"] for r in rows] == [0, 1, 2]
    start = rows[0]
    assert start["eval_split"] == "valid" and start["eval_prompts"] == 4 and start["kl"] == 0.0
    assert len(start["samples"]) == 2 and set(start["samples"][0]) == {"prompt", "response", "reward"}
    for row in rows[1:]:
        assert row["kl"] >= 0 and row["entropy"] > 0 and row["response_length"] > 0
        assert "eval_reward" in row and "episodes_per_s" in row and row["peak_memory_bytes"] > 0
    summary = read_result(out)["summary"]
    assert summary["eval_reward_first"] == start["eval_reward"] and summary["eval_split"] == "valid"


def test_hacking_warning_only_when_training_reward_rises_alone():
    assert hacking_warning(0.0, 1.0, 0.5, 0.2, 0.25, "valid") is not None  # train +1.0, held-out +0.05
    assert hacking_warning(0.0, 1.0, 0.5, 0.2, 0.9, "valid") is None  # held-out followed
    assert hacking_warning(0.0, 0.1, 0.5, 0.2, 0.2, "valid") is None  # training reward barely moved
    assert hacking_warning(0.0, 1.0, 0.5, 0.2, 0.2, "train") is None  # no held-out prompts to compare


def test_threads_flag_is_applied_before_loading(monkeypatch):
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    from training.config import parse_config
    from training.generate import GenerateConfig
    from training.runtime import default_threads

    before = torch.get_num_threads()
    try:
        parse_config(GenerateConfig, ["--model", "m", "--prompts", "p", "--output", "o", "--threads", "3"])
        assert torch.get_num_threads() == 3
        parse_config(GenerateConfig, ["--model", "m", "--prompts", "p", "--output", "o"])
        assert torch.get_num_threads() == default_threads() <= 4
        monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the standard variable sets the default
        parse_config(GenerateConfig, ["--model", "m", "--prompts", "p", "--output", "o"])
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)


@pytest.mark.parametrize("command", ["sft", "dpo", "reward", "ppo", "generate", "evaluate"])
def test_help_renders_for_every_command(command):
    proc = run_cli(command, "--help")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "--threads" in proc.stdout and "{'" not in proc.stdout  # not argparse's internal dict


def test_interrupt_message_says_whether_a_checkpoint_exists(tmp_path):
    assert "no complete checkpoint" in cli._checkpoint_note(["--output_dir", str(tmp_path)])
    (tmp_path / "checkpoints" / "step-00000002").mkdir(parents=True)
    (tmp_path / "checkpoints" / "step-00000002" / "state.json").write_text("{}")
    assert "step-00000002" in cli._checkpoint_note(["--output_dir", str(tmp_path)])


def test_a_rollout_reuses_the_lower_blocks_it_ran_while_sampling(tiny_model_dir):
    from training.modeling import load_tokenizer
    from training.ppo.prefix import FrozenPrefix
    from training.ppo.rollout import collect_rollout, response_logprobs
    from training.reward_model import init_reward_model

    torch.manual_seed(0)
    policy = top_blocks_lora_policy(tiny_model_dir)
    prefix, calls = FrozenPrefix(policy, 2), []
    prefix.decoder.layers[0].register_forward_pre_hook(lambda module, args: calls.append(args[0].shape[1]))
    value = init_reward_model(tiny_model_dir, "cpu", torch.float32)
    prompts = [[{"role": "user", "content": text}] for text in ("hi there", "tell me a long story about cats")]
    roll, _ = collect_rollout(policy, AdaptersOff(policy), value, load_tokenizer(tiny_model_dir, padding_side="left"),
                              lambda p, t: [0.0] * len(t), prompts, max_prompt_length=32, max_new_tokens=6,
                              temperature=1.0, device=torch.device("cpu"), dtype=torch.float32, prefix=prefix)
    steps = roll.response_ids.shape[1]
    assert len(calls) == steps  # the lowest block ran only while sampling: no full forward for the log-probs
    args = (roll.query_ids, roll.query_mask, roll.response_ids, roll.response_mask)
    with torch.no_grad():  # the same log-probs a full forward gives (up to incremental-decoding rounding)
        full = response_logprobs(policy, *args, temperature=1.0, dtype=torch.float32)
    mask = roll.response_mask.bool()
    torch.testing.assert_close(roll.logprobs[mask], full[mask], rtol=0, atol=1e-4)
    with prefix.replay(roll.prefix_hidden), torch.no_grad():  # and the PPO updates replay exactly these
        torch.testing.assert_close(response_logprobs(policy, *args, temperature=1.0, dtype=torch.float32),
                                   roll.logprobs, rtol=0, atol=0)


def test_ptx_term_from_cached_lower_blocks_equals_the_full_forward(tiny_model_dir):
    import torch.nn.functional as F

    from training.modeling import load_tokenizer
    from training.ppo.prefix import FrozenPrefix
    from training.ppo.ptx import IGNORE, DemoPrefix, encode_demos, ptx_loss, ptx_targets
    from training.reward_model import pad_sequences

    torch.manual_seed(0)
    policy = top_blocks_lora_policy(tiny_model_dir)
    tokenizer = load_tokenizer(tiny_model_dir)
    rows = [{"messages": [{"role": "user", "content": q}, {"role": "assistant", "content": a}]}
            for q, a in (("hi", "hello there"), ("name a colour", "blue, or perhaps a deep green"), ("2+2?", "4"))]
    demos = encode_demos(tokenizer, rows, 64)
    ids, mask = pad_sequences([d[0] for d in demos], tokenizer.pad_token_id)
    labels, _ = pad_sequences([d[1] for d in demos], IGNORE)
    with torch.no_grad():  # the definition: every position's logits, mean NLL of the answer tokens
        logits = policy(input_ids=ids, attention_mask=mask).logits
        expected = F.cross_entropy(logits[:, :-1].reshape(-1, logits.shape[-1]), labels[:, 1:].reshape(-1),
                                   ignore_index=IGNORE, reduction="sum") / ptx_targets(demos)
    cpu = torch.device("cpu")
    trimmed = ptx_loss(policy, demos, tokenizer.pad_token_id, cpu, torch.float32)
    frozen = DemoPrefix(FrozenPrefix(policy, 2), policy, cpu, torch.float32)
    cached = ptx_loss(policy, demos, tokenizer.pad_token_id, cpu, torch.float32, frozen)
    torch.testing.assert_close(trimmed, expected, rtol=0, atol=1e-5)
    torch.testing.assert_close(cached, expected, rtol=0, atol=1e-5)
    assert len(frozen.cache) == 3
    cached.backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for n, p in policy.named_parameters() if "lora_A" in n)
