"""What a researcher needs to trust a PPO run: held-out reward, sample texts, a reward-hacking warning.

* :func:`evaluate_policy` samples the policy on held-out prompts (the prompts
  snapshot's valid split; the first ``eval_prompts`` training prompts when it
  has none, and the row says ``eval_split: train``) and scores them with the
  run's reward. It runs at step 0 (the starting policy) and every
  ``eval_steps``. Sampling uses a forked RNG with a fixed seed: every
  evaluation draws the same random numbers (differences come from the policy,
  not from luck), and the training RNG stream is untouched, so ``--resume``
  still reproduces an uninterrupted run.
* :func:`hacking_warning` flags training reward that rises while held-out
  reward does not: the classic sign of a policy exploiting its reward model.
"""

from __future__ import annotations

import torch

from training.ppo.rollout import encode_prompts, sample_responses

EVAL_SEED_OFFSET = 7919  # any constant: keeps evaluation draws apart from the training stream's seed


def eval_prompts(prompts_snap, n: int) -> tuple[list, str]:
    """(the first ``n`` held-out prompts, split name): valid split if any, else training prompts."""
    rows, split = (prompts_snap.valid, "valid") if prompts_snap.valid else (prompts_snap.train, "train")
    return [r["prompt"] for r in rows[:n]], split


@torch.no_grad()
def evaluate_policy(ctx, prompts: list, split: str) -> dict:
    """Mean reward, response length and a few samples of the current policy on ``prompts``."""
    cfg = ctx.cfg
    devices = [ctx.device] if ctx.device.type == "cuda" else []
    texts = []
    with torch.random.fork_rng(devices=devices):
        torch.manual_seed(cfg.seed + EVAL_SEED_OFFSET)
        for start in range(0, len(prompts), cfg.mini_batch_size):
            chunk = prompts[start : start + cfg.mini_batch_size]
            ids, mask = (t.to(ctx.device) for t in encode_prompts(ctx.tokenizer, chunk, cfg.max_prompt_length))
            resp, resp_mask = sample_responses(ctx.policy, ctx.tokenizer, ids, mask, max_new_tokens=cfg.max_new_tokens,
                                               temperature=cfg.temperature, dtype=ctx.dtype)
            texts += [ctx.tokenizer.decode(r[m.bool()], skip_special_tokens=True) for r, m in zip(resp, resp_mask)]
    scores = [float(s) for s in ctx.reward_fn(prompts, texts)]
    lengths = [len(ctx.tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
    samples = [{"prompt": p[-1]["content"], "response": t, "reward": round(s, 4)}
               for p, t, s in list(zip(prompts, texts, scores))[: cfg.samples_logged]]
    return {"eval_reward": sum(scores) / len(scores), "eval_response_length": sum(lengths) / len(lengths),
            "eval_prompts": len(prompts), "eval_split": split, "samples": samples}


def hacking_warning(train_start: float, train_now: float, train_spread: float, eval_start: float,
                    eval_now: float, split: str) -> str | None:
    """A warning when training reward rose clearly but held-out reward did not follow.

    "Clearly" = by more than half the reward spread (std) of the first batch;
    "did not follow" = held-out reward gained less than a quarter of that rise.
    Only meaningful on truly held-out prompts (``split == "valid"``).
    """
    rise = train_now - train_start
    if split != "valid" or rise <= 0.5 * max(train_spread, 1e-6):
        return None
    if eval_now - eval_start >= 0.25 * rise:
        return None
    return (f"possible reward hacking: training reward rose {train_start:.3f} -> {train_now:.3f} while held-out "
            f"reward went {eval_start:.3f} -> {eval_now:.3f}; read the samples before trusting this policy")
