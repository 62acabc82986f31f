"""One PPO step: sample a rollout batch, compute advantages, run the PPO epochs of minibatch updates.

Data parallelism (``training.dist``): each process samples the responses of
its contiguous slice of the global prompt batch, then the rollouts are gathered
so every process holds the whole batch. KL-penalised rewards, GAE, advantage
whitening, the KL controller and the rollout statistics are therefore computed
on the global batch, identically everywhere, as in a single-process run. Every
minibatch is drawn from the global batch (a permutation shared by all
processes) and each process trains on its own slice of it, its token-mean
losses weighted by its share of the minibatch's tokens so that the gradient
DDP averages is exactly that of the global minibatch.
"""

from __future__ import annotations

import contextlib
import time

import torch

from training.dist import reduce_sums, shard, shard_slice
from training.order import batch_rows
from training.ppo.advantages import compute_gae, k3_kl, kl_penalized_rewards, whiten_advantages
from training.ppo.context import Context
from training.ppo.losses import policy_loss, value_loss
from training.ppo.ptx import ptx_loss, ptx_targets
from training.ppo.rollout import collect_rollout, gather_rollout, response_logprobs, response_values
from training.ppo.stats import explained_variance, masked_mean


def ppo_step(ctx: Context, step: int) -> dict:
    """Sample one rollout batch and run the PPO epochs on it; return the step's statistics."""
    cfg, t0 = ctx.cfg, time.perf_counter()
    rows = ctx.prompts_snap.train
    prompts = [rows[i]["prompt"] for i in batch_rows(step - 1, len(rows), cfg.batch_size, cfg.seed)]
    timings: dict = {}
    local, _ = collect_rollout(
        ctx.policy, ctx.ref, ctx.value, ctx.tokenizer, ctx.reward_fn, shard(prompts, ctx.accelerator),
        max_prompt_length=cfg.max_prompt_length, max_new_tokens=cfg.max_new_tokens,
        temperature=cfg.temperature, device=ctx.device, dtype=ctx.dtype, chunk_size=cfg.mini_batch_size,
        frozen_value_trunk=cfg.freeze_value_trunk, timings=timings, prefix=ctx.prefix,
    )
    roll = gather_rollout(ctx.accelerator, local, ctx.tokenizer.pad_token_id)
    mask = roll.response_mask
    rewards, kl = kl_penalized_rewards(roll.scores, roll.logprobs, roll.ref_logprobs, mask, ctx.kl_ctl.value)
    advantages, returns = compute_gae(rewards, roll.values, mask, cfg.gamma, cfg.lam)
    if cfg.whiten_advantages:
        advantages = whiten_advantages(advantages, mask)
    t_update = time.perf_counter()
    updates = _ppo_epochs(ctx, step, roll, advantages, returns)
    timings["time_update_s"] = time.perf_counter() - t_update
    ctx.scheduler.step()
    # Logged and controlled KL: k3 (never negative). The per-token penalty stays k1, as InstructGPT.
    episode_kl = float(k3_kl(roll.logprobs, roll.ref_logprobs, mask).sum(1).mean())
    n = len(prompts)
    stats = {
        "reward_mean": float(roll.scores.mean()), "reward_std": float(roll.scores.std()) if n > 1 else 0.0,
        "kl": episode_kl, "kl_k1": float(kl.sum(1).mean()), "kl_coef": ctx.kl_ctl.value,
        "non_score_reward": float((-ctx.kl_ctl.value * kl).sum(1).mean()),
        "explained_variance": explained_variance(roll.values, returns, mask),
        "response_length": float(mask.sum(1).float().mean()),
        "tokens_per_s": float(mask.sum()) / max(time.perf_counter() - t0, 1e-9),
        "episodes_per_s": n / max(time.perf_counter() - t0, 1e-9),
        **updates, **timings,
    }
    ctx.kl_ctl.update(episode_kl, n)  # the same global KL on every process: beta stays in step
    return stats


def minibatch_order(seed: int, step: int, epoch: int, n: int) -> torch.Tensor:
    """The episode order of one PPO epoch: a pure function of (seed, step, epoch).

    Its own generator, not the global RNG: every process must draw the same
    minibatches, while the global RNG differs per process (sampling).
    """
    gen = torch.Generator().manual_seed((seed * 1_000_003 + step) * 1009 + epoch)
    return torch.randperm(n, generator=gen)


def _ppo_epochs(ctx: Context, step: int, roll, advantages, returns) -> dict:
    """``ppo_epochs`` passes of shuffled minibatch updates; returns the mean update statistics."""
    cfg, n = ctx.cfg, roll.scores.shape[0]
    sums: dict[str, float] = {}
    n_updates = 0
    for epoch in range(cfg.ppo_epochs):
        order = minibatch_order(cfg.seed, step, epoch, n)
        for start in range(0, n, cfg.mini_batch_size):
            batch = order[start : start + cfg.mini_batch_size].to(ctx.device)
            share = roll.response_mask[batch].sum()  # the global minibatch's token count, for weighting
            idx = batch[shard_slice(len(batch), ctx.accelerator)]
            out = _update(ctx, roll.select(idx), advantages[idx], returns[idx], share,
                          _ptx_batch(ctx, step, n_updates))
            for k, v in out.items():
                sums[k] = sums.get(k, 0.0) + v
            n_updates += 1
    # Each process's figures are its weighted share: summed over processes they are the global means.
    return {k: v / n_updates for k, v in reduce_sums(ctx.accelerator, sums).items()}


def _ptx_batch(ctx: Context, step: int, update: int) -> list:
    """SFT demos for one update (all processes): a pure function of (step, update), so resume reproduces it."""
    if not ctx.demos:
        return []
    cfg = ctx.cfg
    per_step = cfg.ppo_epochs * -(-cfg.batch_size // cfg.mini_batch_size)
    idx = batch_rows((step - 1) * per_step + update, len(ctx.demos), cfg.ptx_batch_size, cfg.seed + 1)
    return [ctx.demos[i] for i in idx]


def _update(ctx: Context, mb, advantages, returns, batch_tokens, ptx_demos) -> dict:
    """One gradient step on this process's part of a minibatch: clipped policy + value loss (+ entropy, + ptx).

    ``batch_tokens`` counts the response tokens of the whole (global)
    minibatch. Token means over this process's part are weighted by its share
    of them, and by the process count that DDP's gradient averaging divides by.
    Returned figures are this process's weighted shares (see ``_ppo_epochs``).
    """
    cfg, mask, acc = ctx.cfg, mb.response_mask, ctx.accelerator
    share = float(mask.sum() / batch_tokens)
    args = (mb.query_ids, mb.query_mask, mb.response_ids, mask)
    replay = ctx.prefix.replay(mb.prefix_hidden) if mb.prefix_hidden is not None else contextlib.nullcontext()
    with replay:  # LoRA on the top blocks only: start from the frozen blocks' recorded output
        logprobs, entropy = response_logprobs(ctx.policy_train, *args, temperature=cfg.temperature,
                                              dtype=ctx.dtype, with_entropy=True)
    values = response_values(ctx.value_train, *args, dtype=ctx.dtype, hidden=mb.value_hidden)
    pg = policy_loss(logprobs, mb.logprobs, advantages, mask, cfg.cliprange)
    vf = value_loss(values, mb.values, returns, mask, cfg.cliprange_value)
    mean_entropy = masked_mean(entropy, mask)
    loss = (pg.loss + cfg.vf_coef * vf.loss - cfg.entropy_coef * mean_entropy) * share
    out = {}
    if ptx_demos:
        mine = shard(ptx_demos, acc)
        ptx_share = ptx_targets(mine) / max(ptx_targets(ptx_demos), 1)
        nll = ptx_loss(ctx.policy_train, mine, ctx.tokenizer.pad_token_id, ctx.device, ctx.dtype, ctx.demo_prefix)
        loss = loss + cfg.ptx_coef * nll * ptx_share
        out["ptx_loss"] = float(nll.detach()) * ptx_share
    ctx.optimizer.zero_grad(set_to_none=True)
    acc.backward(loss * acc.num_processes)
    if cfg.max_grad_norm > 0:
        acc.clip_grad_norm_(ctx.trained_parameters, cfg.max_grad_norm)
    ctx.optimizer.step()
    return {
        "loss": float(loss.detach()), "policy_loss": float(pg.loss.detach()) * share,
        "value_loss": float(vf.loss.detach()) * share, "entropy": float(mean_entropy.detach()) * share,
        "clip_fraction": pg.clip_fraction * share, "approx_kl": pg.approx_kl * share,
        "value_clip_fraction": vf.clip_fraction * share, **out,
    }
