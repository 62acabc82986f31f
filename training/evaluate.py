"""Evaluate with a reward model: pairwise accuracy on rankings, or a policy-vs-policy win rate.

    # how often the RM orders a labelled (winner, loser) pair correctly
    python -m training evaluate --reward_model runs/rm/model --comparisons SNAPSHOT [--split valid]

    # win rate of policy B over policy A on prompts, judged by the RM
    python -m training evaluate --reward_model runs/rm/model --prompts PROMPTS \
        --policy_a runs/sft/model --policy_b runs/ppo/model [--temperature 0] [--max_new_tokens 128]

Hyphenated flags (``--reward-model``, ``--policy-a``) work too. Prints the
result as JSON on stdout; ``--output FILE`` also writes it (with per-item detail).
Ties (equal scores) count half. The reward model format is ``training.reward_model``.
"""

from __future__ import annotations

import gc
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from training.config import parse_config
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class EvaluateConfig:
    """RM pairwise accuracy (--comparisons) or policy B vs A win rate (--prompts --policy_a --policy_b)."""

    reward_model: str = field(metadata={"help": "Reward model folder (written by `python -m training reward`)."})
    comparisons: str | None = field(default=None, metadata={"help": "comparisons snapshot folder or .jsonl."})
    split: Literal["all", "train", "valid"] = field(
        default="all", metadata={"help": "Which split of a snapshot folder to use (all = train + valid)."})
    prompts: str | None = field(default=None, metadata={"help": "prompts snapshot folder or .jsonl (win-rate mode)."})
    policy_a: str | None = field(default=None, metadata={"help": "Baseline policy model (win-rate mode)."})
    policy_b: str | None = field(default=None, metadata={"help": "Candidate policy model (win-rate mode)."})
    output: str | None = field(default=None, metadata={"help": "Also write the full result JSON here."})
    batch_size: int = field(default=16, metadata={"help": "Sequences per forward pass."})
    max_new_tokens: int = field(default=128, metadata={"help": "Win-rate mode: tokens per completion."})
    temperature: float = field(default=0.0, metadata={"help": "Win-rate mode: sampling temperature (0 = greedy)."})
    top_p: float = field(default=1.0, metadata={"help": "Win-rate mode: nucleus mass."})
    seed: int = field(default=0, metadata={"help": "Win-rate mode: sampling seed."})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "auto, cpu or cuda."})

    def mode(self) -> str:
        """'accuracy' or 'winrate'; anything else is an input error."""
        winrate_args = (self.prompts, self.policy_a, self.policy_b)
        if self.comparisons and not any(winrate_args):
            return "accuracy"
        if not self.comparisons and all(winrate_args):
            return "winrate"
        raise TrainingInputError(
            "evaluate: give either --comparisons, or all of --prompts --policy_a --policy_b")


def score_fraction(better: list[float], worse: list[float]) -> float:
    """Fraction of pairs where ``better`` scores higher; equal scores count half."""
    wins = sum(1.0 if b > w else 0.5 if b == w else 0.0 for b, w in zip(better, worse))
    return wins / len(better) if better else float("nan")


def pairwise_accuracy(rm, rows: list[dict], batch_size: int) -> dict:
    """Score each completion once, then compare every labelled (winner, loser) pair."""
    from training.data import ranking_pairs

    prompts = [r["prompt"] for r in rows for _ in r["completions"]]
    texts = [c for r in rows for c in r["completions"]]
    scores = rm.score(prompts, texts, batch_size=batch_size)
    winners, losers, offset = [], [], 0
    for row in rows:
        for w, l in ranking_pairs(row["ranking"]):
            winners.append(scores[offset + w])
            losers.append(scores[offset + l])
        offset += len(row["completions"])
    if not winners:
        raise TrainingInputError("evaluate: the comparisons contain no ranked pair (all ties)")
    return {"mode": "accuracy", "accuracy": score_fraction(winners, losers), "pairs": len(winners),
            "rows": len(rows), "completions_scored": len(texts)}


def sample_policy(path: str, prompts: list[list[dict]], cfg: EvaluateConfig, device, dtype) -> list[str]:
    """One completion per prompt from the policy at ``path`` (model freed afterwards)."""
    import torch

    from training.generate import GenerationSettings, generate_completions
    from training.modeling import load_causal_lm, load_tokenizer, resolve_model

    model_path = resolve_model(path)
    tokenizer = load_tokenizer(model_path, padding_side="left")
    model = load_causal_lm(model_path, device, dtype).eval()
    settings = GenerationSettings(k=1, temperature=cfg.temperature, top_p=cfg.top_p,
                                  max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
    out = [c[0] for c in generate_completions(model, tokenizer, prompts, settings, cfg.batch_size)]
    del model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()  # make room for the next policy
    return out


def win_rate(rm, cfg: EvaluateConfig, device, dtype) -> dict:
    """Generate with A and B on the same prompts; B wins a prompt when the RM scores it higher."""
    from training.generate import load_prompts

    rows = load_prompts(cfg.prompts)
    prompts = [r["prompt"] for r in rows]
    texts_a = sample_policy(cfg.policy_a, prompts, cfg, device, dtype)
    texts_b = sample_policy(cfg.policy_b, prompts, cfg, device, dtype)
    scores_a = rm.score(prompts, texts_a, batch_size=cfg.batch_size)
    scores_b = rm.score(prompts, texts_b, batch_size=cfg.batch_size)
    items = [{"prompt_id": r["prompt_id"], "a": ta, "b": tb, "reward_a": sa, "reward_b": sb}
             for r, ta, tb, sa, sb in zip(rows, texts_a, texts_b, scores_a, scores_b)]
    return {"mode": "winrate", "win_rate_b_over_a": score_fraction(scores_b, scores_a), "prompts": len(rows),
            "mean_reward_a": sum(scores_a) / len(rows), "mean_reward_b": sum(scores_b) / len(rows),
            "policy_a": cfg.policy_a, "policy_b": cfg.policy_b, "items": items}


def comparison_rows(cfg: EvaluateConfig) -> list[dict]:
    """The comparison rows of the chosen split."""
    from training.data import load_snapshot

    snap = load_snapshot(cfg.comparisons, "comparisons")
    rows = {"all": snap.train + snap.valid, "train": snap.train, "valid": snap.valid}[cfg.split]
    if not rows:
        raise TrainingInputError(f"{cfg.comparisons}: split {cfg.split!r} has no rows")
    return rows


def run(cfg: EvaluateConfig) -> dict:
    """Evaluate per ``cfg.mode()`` and return the result dict."""
    from training.modeling import pick_device, pick_dtype
    from training.reward_model import load_reward_model

    mode = cfg.mode()
    rows = comparison_rows(cfg) if mode == "accuracy" else None  # validate input before loading models
    device = pick_device(cfg.device)
    dtype = pick_dtype(device)
    rm = load_reward_model(Path(cfg.reward_model), device, dtype)
    result = pairwise_accuracy(rm, rows, cfg.batch_size) if mode == "accuracy" else win_rate(rm, cfg, device, dtype)
    result["reward_model"] = cfg.reward_model
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training evaluate ...``."""
    cfg = parse_config(EvaluateConfig, argv, prog="python -m training evaluate")
    if cfg.batch_size < 1 or cfg.max_new_tokens < 1:
        raise TrainingInputError("config: batch_size and max_new_tokens must be >= 1")
    result = run(cfg)
    if cfg.output:
        from training.runio import write_json_atomic

        write_json_atomic(cfg.output, result)
    summary = {k: v for k, v in result.items() if k != "items"}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0
