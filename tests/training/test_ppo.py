"""PPO end to end on the tiny model: learns a known reward, resumes exactly, rejects bad input."""

import pytest
import torch
from helpers import make_sft, read_metrics, read_result, run_cli, write_jsonl
from safetensors.torch import load_file

from training import cli
from training.modeling import load_causal_lm, load_tokenizer
from training.ppo import loop
from training.ppo.rollout import collect_rollout, encode_prompts, response_logprobs, response_mask_from_ids
from training.reward_model import init_reward_model

TOPICS = ["the sea", "a cat", "the moon", "coffee", "a robot", "music", "rain", "a garden"]


@pytest.fixture(scope="module")
def prompts_file(tmp_path_factory):
    rows = [{"prompt": [{"role": "user", "content": f"Write one line about {t}."}]} for t in TOPICS * 4]
    return write_jsonl(tmp_path_factory.mktemp("prompts") / "prompts.jsonl", rows)


@pytest.fixture(scope="module")
def untrained_rm(tiny_model_dir, tmp_path_factory):
    """A reward-model folder (random head, offset 0.1): enough to exercise the RM-driven path."""
    rm = init_reward_model(tiny_model_dir, "cpu", torch.float32)
    rm.offset = 0.1
    path = tmp_path_factory.mktemp("rm") / "model"
    rm.save_pretrained(path)
    return path


def ppo_args(model, prompts, out, *extra):
    """Flags of a small, fast PPO run."""
    return ["--model", str(model), "--prompts", str(prompts), "--output_dir", str(out), "--device", "cpu",
            "--batch_size", "16", "--mini_batch_size", "8", "--ppo_epochs", "2", "--max_new_tokens", "8",
            "--learning_rate", "1e-3", *map(str, extra)]


def test_response_mask_stops_after_first_eos():
    mask = response_mask_from_ids(torch.tensor([[5, 9, 7, 9], [5, 6, 7, 8], [9, 1, 2, 3]]), [9])
    assert mask.tolist() == [[1, 1, 0, 0], [1, 1, 1, 1], [1, 0, 0, 0]]


def test_rollout_left_padding_and_zero_kl_at_start(tiny_model_dir):
    tok = load_tokenizer(tiny_model_dir, padding_side="left")
    policy = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32).eval()
    ref = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32).eval()
    value = init_reward_model(tiny_model_dir, "cpu", torch.float32).eval()
    prompts = [[{"role": "user", "content": "hi"}], [{"role": "user", "content": "Write a long poem about the sea."}]]
    torch.manual_seed(0)
    roll, texts = collect_rollout(policy, ref, value, tok, lambda p, t: [len(x) for x in t], prompts,
                                  max_prompt_length=64, max_new_tokens=6, temperature=1.0,
                                  device=torch.device("cpu"), dtype=torch.float32)
    assert roll.scores.tolist() == [float(len(t)) for t in texts]
    torch.testing.assert_close(roll.logprobs, roll.ref_logprobs, rtol=0, atol=0)  # same weights: KL = 0
    # The short, left-padded prompt gives the same log-probs as when run alone.
    n = int(roll.query_mask[0].sum())
    alone = response_logprobs(policy, roll.query_ids[:1, -n:], roll.query_mask[:1, -n:], roll.response_ids[:1],
                              roll.response_mask[:1], temperature=1.0, dtype=torch.float32)
    torch.testing.assert_close(alone[0] * roll.response_mask[0], roll.logprobs[0] * roll.response_mask[0],
                               atol=1e-5, rtol=0)
    ids, mask = encode_prompts(tok, prompts, max_prompt_length=5)
    assert ids.shape[1] == 5 and mask[:, -1].tolist() == [1, 1]


def test_ppo_raises_known_reward_with_bounded_kl(tiny_model_dir, prompts_file, tmp_path):
    out = tmp_path / "ppo"
    args = ppo_args(tiny_model_dir, prompts_file, out, "--reward_fn", "contains:the", "--max_steps", "30",
                    "--logging_steps", "5")
    assert loop.main(args) == 0
    summary = read_result(out)["summary"]
    # A random tiny model says "the" in ~5% of 8-token replies; PPO must make it common.
    assert summary["reward_mean_first"] < 0.3
    assert summary["reward_mean_last"] > summary["reward_mean_first"] + 0.3
    rows = [r for r in read_metrics(out) if r["step"] > 0]
    kls = [r["kl"] for r in rows]
    # The policy moved away from the reference, but the KL penalty kept it within a few nats.
    assert 0.05 < kls[-1] < 15 and all(k < 15 for k in kls)
    for key in ("reward_mean", "kl", "entropy", "clip_fraction", "value_loss", "explained_variance", "approx_kl"):
        assert key in rows[-1]


def test_ppo_resume_lands_where_an_uninterrupted_run_lands(tiny_model_dir, prompts_file, untrained_rm, tmp_path,
                                                             monkeypatch):
    sft = make_sft(tmp_path / "sft", n=8)
    args = ["--reward_model", untrained_rm, "--ptx_data", sft, "--ptx_coef", "0.5", "--kl_target", "1.0",
            "--kl_horizon", "100", "--max_steps", "4", "--save_steps", "2", "--logging_steps", "1"]
    full, broken = tmp_path / "full", tmp_path / "broken"
    assert loop.main(ppo_args(tiny_model_dir, prompts_file, full, *args)) == 0

    real_step, calls = loop.ppo_step, {"n": 0}

    def crash_on_step_3(*a, **k):
        calls["n"] += 1
        if calls["n"] == 3:
            raise KeyboardInterrupt("simulated preemption")
        return real_step(*a, **k)

    monkeypatch.setattr(loop, "step_fn", crash_on_step_3)
    with pytest.raises(KeyboardInterrupt):
        loop.main(ppo_args(tiny_model_dir, prompts_file, broken, *args))
    monkeypatch.setattr(loop, "step_fn", real_step)
    assert loop.main(ppo_args(tiny_model_dir, prompts_file, broken, *args, "--resume")) == 0

    a, b = load_file(full / "model" / "model.safetensors"), load_file(broken / "model" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=0, atol=1e-6)
    ma, mb = read_metrics(full), read_metrics(broken)
    assert [r["step"] for r in mb] == [0, 1, 2, 3, 4]  # step 0: the starting policy, evaluated once
    assert ma[0]["eval_reward"] == mb[0]["eval_reward"] and ma[-1]["eval_reward"] == mb[-1]["eval_reward"]
    for ra, rb in zip(ma[1:], mb[1:]):
        for key in ("reward_mean", "kl", "kl_coef", "ptx_loss", "value_loss"):
            assert ra[key] == pytest.approx(rb[key], abs=1e-6), key
    assert ma[-1]["kl_coef"] != 0.02  # the adaptive controller moved beta (and resumed its state)


def test_ppo_cli_writes_a_loadable_policy(tiny_model_dir, prompts_file, untrained_rm, tmp_path):
    out = tmp_path / "ppo"
    proc = run_cli("ppo", *ppo_args(tiny_model_dir, prompts_file, out, "--reward_model", untrained_rm,
                                     "--max_steps", "2", "--logging_steps", "1"))
    assert proc.returncode == 0, proc.stderr
    result = read_result(out)
    assert result["status"] == "succeeded" and result["command"] == "ppo"
    assert [r["step"] for r in read_metrics(out)] == [0, 1, 2]
    trained, base = load_file(out / "model" / "model.safetensors"), load_file(tiny_model_dir / "model.safetensors")
    assert trained.keys() == base.keys()
    assert any(not torch.equal(trained[k], base[k]) for k in base)  # two PPO steps moved the policy
    assert load_tokenizer(out / "model").get_vocab() == load_tokenizer(tiny_model_dir).get_vocab()


def test_ppo_bad_input_exits_2(tiny_model_dir, prompts_file, tmp_path, capsys):
    bad = write_jsonl(tmp_path / "bad.jsonl", [{"prompt": [{"role": "user", "content": "ok"}]},
                                               {"prompt": [{"role": "assistant", "content": "no user turn"}]}])
    assert cli.main(["ppo", *ppo_args(tiny_model_dir, bad, tmp_path / "o", "--reward_fn", "length")]) == 2
    assert f"{bad}:2:" in capsys.readouterr().err
    assert cli.main(["ppo", *ppo_args(tiny_model_dir, prompts_file, tmp_path / "o", "--reward_fn", "nope")]) == 2
    assert "unknown builtin" in capsys.readouterr().err
    assert cli.main(["ppo", *ppo_args(tiny_model_dir, prompts_file, tmp_path / "o")]) == 2
    assert "exactly one of reward_model and reward_fn" in capsys.readouterr().err
