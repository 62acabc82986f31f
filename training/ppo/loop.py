"""``python -m training ppo``: PPO-ptx against a reward model (InstructGPT step 3).

    python -m training ppo --model runs/sft/model --reward_model runs/rm/model \\
        --prompts snapshots/prompts-7 --output_dir runs/ppo --max_steps 200 \\
        [--ptx_data snapshots/sft-3 --ptx_coef 1.0] [--kl_target 6] [--resume]

    # without a reward model, against a known function (tests, debugging):
    python -m training ppo --model tiny --reward_fn contains:paris --prompts p.jsonl --output_dir runs/dbg

Models in play:
- policy: initialised from ``--model`` (the SFT model), trained.
- reference: a frozen copy of ``--model``; the per-token KL penalty pulls towards it.
- value model: a separate scalar-head LM initialised from the reward model
  (InstructGPT), i.e. the RM backbone + its head applied at every token;
  with ``--reward_fn`` it is the policy's backbone with a fresh head. Trained.
- reward: the frozen reward model (normalised score of prompt + response) or
  the builtin function.

One step = sample ``batch_size`` episodes, score them, compute KL-penalised
per-token rewards and GAE advantages, then ``ppo_epochs`` passes of
minibatch updates of policy + value (+ gamma x SFT NLL on ``--ptx_data``).
Models stay in eval mode throughout (dropout off), so the log-probs recorded
at sampling time are exactly those the first update recomputes.

Trained weights are float32; on CUDA all forwards run under bf16 autocast.
The reference is also float32 under the same autocast, so KL is exactly 0
before the first update.
"""

from __future__ import annotations

import sys
import time

import torch

from training.config import parse_config
from training.data import load_snapshot
from training.errors import TrainingInputError
from training.modeling import load_causal_lm, load_tokenizer, pick_device, pick_dtype, resolve_model
from training.modeling import seed_everything, sync_pad_token
from training.optim import warmup_schedule
from training.order import batch_rows
from training.ppo.advantages import KLController, compute_gae, kl_penalized_rewards, whiten_advantages
from training.ppo.config import PPOConfig
from training.ppo.losses import policy_loss, value_loss
from training.ppo.ptx import encode_demos, ptx_loss
from training.ppo.rewards import builtin_reward, reward_model_fn
from training.ppo.rollout import collect_rollout, response_logprobs, response_values
from training.ppo.stats import explained_variance, masked_mean
from training.reward_model import init_reward_model
from training.runio import RunWriter, load_latest_checkpoint, progress_bar, restore_rng_state
from training.runio import save_checkpoint, save_model_atomic


class Context:
    """Everything a PPO step needs: config, models, tokenizer, data, optimizer."""

    def __init__(self, cfg: PPOConfig):
        self.cfg = cfg
        self.prompts_snap = load_snapshot(cfg.prompts, "prompts")  # validate every row first
        self.ptx_snap = load_snapshot(cfg.ptx_data, "sft") if cfg.ptx_data else None
        builtin = builtin_reward(cfg.reward_fn) if cfg.reward_fn else None  # bad spec fails early
        self.model_path = resolve_model(cfg.model)
        self.device = pick_device(cfg.device)
        self.dtype = pick_dtype(self.device)
        seed_everything(cfg.seed)
        self.tokenizer = load_tokenizer(self.model_path, padding_side="left")
        self.policy = self._causal_lm(trainable=True)
        self.ref = self._causal_lm(trainable=False)
        value_path = cfg.value_model or cfg.reward_model or self.model_path
        self.value = init_reward_model(value_path, self.device, torch.float32, max_length=cfg.max_length)
        self.value.eval()
        _check_same_vocab(self.tokenizer, self.value.tokenizer, value_path)
        self.reward_fn = builtin or reward_model_fn(cfg.reward_model, self.device, self.dtype)
        self.demos = encode_demos(self.tokenizer, self.ptx_snap.train, cfg.max_length) if self.ptx_snap else []
        value_lr = cfg.value_learning_rate if cfg.value_learning_rate is not None else cfg.learning_rate
        self.optimizer = torch.optim.AdamW(
            [{"params": list(self.policy.parameters()), "lr": cfg.learning_rate},
             {"params": list(self.value.parameters()), "lr": value_lr}],
            betas=(0.9, 0.95), eps=1e-8, weight_decay=0.0,
        )
        self.scheduler = warmup_schedule(self.optimizer, cfg.warmup_steps, cfg.max_steps)
        self.kl_ctl = KLController(cfg.init_kl_coef, cfg.kl_target, cfg.kl_horizon)

    def _causal_lm(self, trainable: bool):
        """The policy (trainable) or the frozen reference, both from ``--model`` in float32."""
        model = load_causal_lm(self.model_path, self.device, torch.float32)
        sync_pad_token(model, self.tokenizer)
        model.eval()
        model.requires_grad_(trainable)
        return model

    def inputs(self) -> dict[str, str]:
        """sha256 of every input file, for result.json lineage."""
        files = dict(self.prompts_snap.files)
        if self.ptx_snap:
            files.update(self.ptx_snap.files)
        return files


def _check_same_vocab(policy_tok, value_tok, value_path) -> None:
    """The value model reads the policy's token ids directly, so the vocabularies must agree."""
    if policy_tok.get_vocab() != value_tok.get_vocab():
        raise TrainingInputError(
            f"{value_path}: value model tokenizer differs from the policy's; "
            "train the reward model from the same SFT model or pass --value_model"
        )


def ppo_step(ctx: Context, step: int) -> dict:
    """Sample one rollout batch and run the PPO epochs on it; return the step's statistics."""
    cfg, t0 = ctx.cfg, time.perf_counter()
    rows = ctx.prompts_snap.train
    prompts = [rows[i]["prompt"] for i in batch_rows(step - 1, len(rows), cfg.batch_size, cfg.seed)]
    roll, texts = collect_rollout(
        ctx.policy, ctx.ref, ctx.value, ctx.tokenizer, ctx.reward_fn, prompts,
        max_prompt_length=cfg.max_prompt_length, max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature, device=ctx.device, dtype=ctx.dtype, chunk_size=cfg.mini_batch_size,
    )
    mask = roll.response_mask
    rewards, kl = kl_penalized_rewards(roll.scores, roll.logprobs, roll.ref_logprobs, mask, ctx.kl_ctl.value)
    advantages, returns = compute_gae(rewards, roll.values, mask, cfg.gamma, cfg.lam)
    if cfg.whiten_advantages:
        advantages = whiten_advantages(advantages, mask)
    updates = _ppo_epochs(ctx, step, roll, advantages, returns)
    ctx.scheduler.step()
    episode_kl = float(kl.sum(1).mean())
    stats = {
        "reward_mean": float(roll.scores.mean()), "reward_std": float(roll.scores.std()) if len(prompts) > 1 else 0.0,
        "kl": episode_kl, "kl_coef": ctx.kl_ctl.value,
        "non_score_reward": float((-ctx.kl_ctl.value * kl).sum(1).mean()),
        "explained_variance": explained_variance(roll.values, returns, mask),
        "response_length": float(mask.sum(1).float().mean()),
        "tokens_per_s": float(mask.sum()) / max(time.perf_counter() - t0, 1e-9),
        **updates,
    }
    ctx.kl_ctl.update(episode_kl, len(prompts))
    return stats


def _ppo_epochs(ctx: Context, step: int, roll, advantages, returns) -> dict:
    """``ppo_epochs`` passes of shuffled minibatch updates; returns the mean update statistics."""
    cfg, n = ctx.cfg, roll.scores.shape[0]
    sums: dict[str, float] = {}
    n_updates = 0
    for _ in range(cfg.ppo_epochs):
        order = torch.randperm(n)
        for start in range(0, n, cfg.mini_batch_size):
            idx = order[start : start + cfg.mini_batch_size].to(ctx.device)
            ptx_demos = _ptx_batch(ctx, step, n_updates)
            out = _update(ctx, roll.select(idx), advantages[idx], returns[idx], ptx_demos)
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v
            n_updates += 1
    return {k: v / n_updates for k, v in sums.items()}


def _ptx_batch(ctx: Context, step: int, update: int) -> list:
    """SFT demos for one update: a pure function of (step, update), so resume reproduces it."""
    if not ctx.demos:
        return []
    cfg = ctx.cfg
    per_step = cfg.ppo_epochs * -(-cfg.batch_size // cfg.mini_batch_size)
    idx = batch_rows((step - 1) * per_step + update, len(ctx.demos), cfg.ptx_batch_size, cfg.seed + 1)
    return [ctx.demos[i] for i in idx]


def _update(ctx: Context, mb, advantages, returns, ptx_demos) -> dict:
    """One gradient step on a minibatch: clipped policy + value loss (+ entropy bonus, + ptx)."""
    cfg, mask = ctx.cfg, mb.response_mask
    args = (mb.query_ids, mb.query_mask, mb.response_ids, mask)
    logprobs, entropy = response_logprobs(ctx.policy, *args, temperature=cfg.temperature, dtype=ctx.dtype,
                                          with_entropy=True)
    values = response_values(ctx.value, *args, dtype=ctx.dtype)
    pg = policy_loss(logprobs, mb.logprobs, advantages, mask, cfg.cliprange)
    vf = value_loss(values, mb.values, returns, mask, cfg.cliprange_value)
    mean_entropy = masked_mean(entropy, mask)
    loss = pg.loss + cfg.vf_coef * vf.loss - cfg.entropy_coef * mean_entropy
    out = {}
    if ptx_demos:
        nll = ptx_loss(ctx.policy, ptx_demos, ctx.tokenizer.pad_token_id, ctx.device, ctx.dtype)
        loss = loss + cfg.ptx_coef * nll
        out["ptx_loss"] = float(nll.detach())
    ctx.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.max_grad_norm > 0:
        params = [p for g in ctx.optimizer.param_groups for p in g["params"]]
        torch.nn.utils.clip_grad_norm_(params, cfg.max_grad_norm)
    ctx.optimizer.step()
    return {
        "loss": float(loss.detach()), "policy_loss": float(pg.loss.detach()), "value_loss": float(vf.loss.detach()),
        "entropy": float(mean_entropy.detach()), "clip_fraction": pg.clip_fraction, "approx_kl": pg.approx_kl,
        "value_clip_fraction": vf.clip_fraction, **out,
    }


# Indirection so tests can simulate a crash mid-run (monkeypatch step_fn).
step_fn = ppo_step


def run(cfg: PPOConfig) -> dict:
    """Validate inputs, train, save the policy atomically, write result.json; return it."""
    ctx = Context(cfg)
    writer = RunWriter(cfg.output_dir, ctx.device)
    start, state = _maybe_resume(ctx, writer)
    bar = progress_bar(cfg.max_steps, "ppo", initial=start)
    for step in range(start + 1, cfg.max_steps + 1):
        stats = step_fn(ctx, step)
        state["reward_history"].append(stats["reward_mean"])
        state["window"].append(stats)
        if step % cfg.logging_steps == 0 or step == cfg.max_steps:
            _log(writer, step, cfg, ctx, state["window"])
            state["window"].clear()
        if cfg.save_steps and step % cfg.save_steps == 0 and step < cfg.max_steps:
            state["kl_ctl"] = ctx.kl_ctl.state_dict()
            save_checkpoint(writer.checkpoint_dir, step, {"policy": ctx.policy, "value": ctx.value.model},
                            ctx.optimizer, ctx.scheduler, extra=state)
        bar.update(1)
    bar.close()
    info = {"kind": "policy", "base_model": str(ctx.model_path), "reward_model": cfg.reward_model,
            "reward_fn": cfg.reward_fn, "steps": cfg.max_steps}
    save_model_atomic(ctx.policy, ctx.tokenizer, writer.model_dir, info=info)
    history = state["reward_history"]
    k = max(1, min(5, len(history) // 4))  # average a few steps: single-batch rewards are noisy
    summary = {
        "reward_mean_first": sum(history[:k]) / k, "reward_mean_last": sum(history[-k:]) / k,
        "kl_last": writer.last_metrics.get("kl"), "kl_coef": ctx.kl_ctl.value,
        "episodes": cfg.max_steps * cfg.batch_size, "steps": cfg.max_steps, "base_model": str(ctx.model_path),
    }
    return writer.write_result(command="ppo", config=cfg.to_dict(), inputs=ctx.inputs(), summary=summary)


def _maybe_resume(ctx: Context, writer: RunWriter) -> tuple[int, dict]:
    """Restore models, optimizer, schedule, KL controller and RNG from the latest checkpoint if asked."""
    fresh = {"reward_history": [], "window": []}
    ckpt = load_latest_checkpoint(writer.checkpoint_dir) if ctx.cfg.resume else None
    if ckpt is None:
        if ctx.cfg.resume:
            print(f"note: no checkpoint in {writer.checkpoint_dir}, starting from step 0", file=sys.stderr)
        writer.start_fresh()
        return 0, fresh
    ctx.policy.load_state_dict(ckpt["model"]["policy"])
    ctx.value.model.load_state_dict(ckpt["model"]["value"])
    ctx.optimizer.load_state_dict(ckpt["optimizer"])
    ctx.scheduler.load_state_dict(ckpt["scheduler"])
    state = {**fresh, **ckpt["extra"]}
    ctx.kl_ctl.load_state_dict(state.pop("kl_ctl"))
    restore_rng_state(ckpt["rng_state"])
    writer.truncate_after(ckpt["step"])
    print(f"resuming from {ckpt['path']} (step {ckpt['step']})", file=sys.stderr)
    return ckpt["step"], state


def _log(writer: RunWriter, step: int, cfg: PPOConfig, ctx: Context, window: list[dict]) -> None:
    """One metrics.jsonl row: the mean of each statistic over the steps since the previous row."""
    keys = {k for s in window for k in s}
    mean = {k: sum(s[k] for s in window if k in s) / sum(1 for s in window if k in s) for k in keys}
    loss, tps = mean.pop("loss"), mean.pop("tokens_per_s")
    mean["kl_coef"] = ctx.kl_ctl.value
    writer.log(step, step / cfg.max_steps, loss, ctx.scheduler.get_last_lr()[0], tps, **mean)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m training ppo``); returns the exit status."""
    cfg = parse_config(PPOConfig, argv, prog="python -m training ppo")
    result = run(cfg)
    s = result["summary"]
    print(f"policy saved to {result['model_dir']}; mean reward {s['reward_mean_first']:.4f} -> "
          f"{s['reward_mean_last']:.4f}, KL {s['kl_last']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
