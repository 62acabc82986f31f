"""Evaluate with a reward model: pairwise accuracy on rankings, or a policy-vs-policy win rate.

    # how often the RM orders a labelled (winner, loser) pair correctly (held-out rows by default)
    python -m training evaluate --reward_model runs/rm/model --comparisons SNAPSHOT [--split valid]

    # win rate of policy B over policy A on prompts, judged by a reward model
    python -m training evaluate --reward_model runs/rm/model --prompts PROMPTS \
        --policy_a runs/sft/model --policy_b runs/ppo/model [--samples_per_prompt 4] \
        [--judge_reward_model runs/rm-other/model] --output runs/eval/result.json

Hyphenated flags (``--reward-model``, ``--policy-a``) work too. Prints the
result as JSON on stdout; ``--output FILE`` also writes it (with per-item
detail) and appends progress rows to ``metrics.jsonl`` beside it.

Honest by construction (``training.eval_stats``): ties count half and are
reported (``ties``), pairs of identical texts are ties and counted
(``identical``), every figure comes with a 95 % bootstrap interval over
prompts or rankings, and ``split`` says which rows were used. ``auto`` means
the held-out (valid) split; accuracy refuses to fall back to training rows,
while a win rate on a snapshot without a valid split uses all its prompts and
says so. A policy trained against ``--reward_model`` is best judged by another
one: ``--judge_reward_model`` makes that one the judge (both are reported).
"""

from __future__ import annotations

import gc
import json
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from training.config import PRECISION_HELP, THREADS_HELP, parse_config
from training.errors import TrainingInputError


@dataclass(kw_only=True)
class EvaluateConfig:
    """RM pairwise accuracy (--comparisons) or policy B vs A win rate (--prompts --policy_a --policy_b)."""

    reward_model: str = field(metadata={"help": "Reward model folder (written by `python -m training reward`)."})
    comparisons: str | None = field(default=None, metadata={"help": "comparisons snapshot folder or .jsonl."})
    split: Literal["auto", "all", "train", "valid"] = field(
        default="auto", metadata={"help": "Which split of a snapshot folder to use: auto = valid (held-out; "
                                          "a win rate falls back to all prompts if there is none), "
                                          "all = train + valid."})
    prompts: str | None = field(default=None, metadata={"help": "prompts snapshot folder or .jsonl (win-rate mode)."})
    policy_a: str | None = field(default=None, metadata={"help": "Baseline policy model (win-rate mode)."})
    policy_b: str | None = field(default=None, metadata={"help": "Candidate policy model (win-rate mode)."})
    output: str | None = field(default=None, metadata={"help": "Also write the full result JSON here."})
    batch_size: int = field(default=16, metadata={"help": "Sequences per forward pass."})
    max_new_tokens: int = field(default=128, metadata={"help": "Win-rate mode: tokens per completion."})
    temperature: float = field(default=0.7, metadata={"help": "Win-rate mode: sampling temperature (0 = greedy)."})
    top_p: float = field(default=1.0, metadata={"help": "Win-rate mode: nucleus mass."})
    seed: int = field(default=0, metadata={"help": "Win-rate mode: sampling seed."})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "auto, cpu or cuda."})
    samples_per_prompt: int = field(
        default=4, metadata={"help": "Win-rate mode: completions per prompt from each policy (sample j of A "
                                     "meets sample j of B); greedy (temperature 0) uses 1."})
    judge_reward_model: str | None = field(
        default=None, metadata={"help": "Win-rate mode: a second reward model that judges instead of "
                                        "reward_model (use one the policy was not optimised against)."})
    threads: int = field(default=0, metadata={"help": THREADS_HELP})
    precision: Literal["auto", "fp32", "bf16"] = field(default="auto", metadata={"help": PRECISION_HELP})

    def __post_init__(self) -> None:
        if self.batch_size < 1 or self.max_new_tokens < 1 or self.samples_per_prompt < 1:
            raise TrainingInputError("config: batch_size, max_new_tokens and samples_per_prompt must be >= 1")
        if self.samples_per_prompt > 1 and self.temperature == 0:
            # Greedy samples of one prompt are all identical: more of them would only multiply the pairs
            # (and narrow the interval) without new information. Said on stderr and in samples_per_prompt.
            print("evaluate: temperature 0 (greedy) -> one sample per prompt", file=sys.stderr)
            self.samples_per_prompt = 1

    def mode(self) -> str:
        """'accuracy' or 'winrate'; anything else is an input error."""
        winrate_args = (self.prompts, self.policy_a, self.policy_b)
        if self.comparisons and not any(winrate_args):
            return "accuracy"
        if not self.comparisons and all(winrate_args):
            return "winrate"
        raise TrainingInputError(
            "evaluate: give either --comparisons, or all of --prompts --policy_a --policy_b")


def pairwise_accuracy(rm, rows: list[dict], batch_size: int, seed: int = 0) -> dict:
    """Score each completion once, then compare every labelled (winner, loser) pair."""
    from training.data import ranking_pairs
    from training.eval_stats import accuracy_summary

    prompts = [r["prompt"] for r in rows for _ in r["completions"]]
    texts = [c for r in rows for c in r["completions"]]
    scores = rm.score(prompts, texts, batch_size=batch_size)
    groups, offset = [], 0
    for row in rows:
        groups.append([(scores[offset + w], scores[offset + l]) for w, l in ranking_pairs(row["ranking"])])
        offset += len(row["completions"])
    if not any(groups):
        raise TrainingInputError("evaluate: the comparisons contain no ranked pair (all ties)")
    summary = accuracy_summary(groups, seed=seed)
    return {"mode": "accuracy", **summary, "pairs": summary["n_pairs"], "rows": len(rows),
            "completions_scored": len(texts)}


def sample_policy(path: str, prompts: list[list[dict]], cfg: EvaluateConfig, device, progress) -> list[list[str]]:
    """``samples_per_prompt`` completions per prompt from the policy at ``path`` (model freed afterwards)."""
    import torch

    from training.generate import GenerationSettings, generate_completions
    from training.modeling import load_inference_lm, load_tokenizer, pick_dtype
    from training.modeling import resolve_model

    model_path = resolve_model(path)
    tokenizer = load_tokenizer(model_path, padding_side="left")
    compute = pick_dtype(device, cfg.precision, model_path)
    model = load_inference_lm(model_path, device, compute)
    settings = GenerationSettings(k=cfg.samples_per_prompt, temperature=cfg.temperature, top_p=cfg.top_p,
                                  max_new_tokens=cfg.max_new_tokens, seed=cfg.seed)
    out = generate_completions(model, tokenizer, prompts, settings, cfg.batch_size, on_batch=progress,
                               compute_dtype=compute)
    del model
    gc.collect()
    if device.type == "cuda":
        torch.cuda.empty_cache()  # make room for the next policy
    return out


def win_rate(judges: dict, cfg: EvaluateConfig, device, log) -> dict:
    """Sample A and B on the same prompts; every judge scores every pair; the last judge is the headline."""
    from training.eval_stats import win_rate_summary

    rows, split = prompt_rows(cfg)
    prompts = [r["prompt"] for r in rows]
    texts_a = sample_policy(cfg.policy_a, prompts, cfg, device, log.stage(0.0, 0.45, len(prompts)))
    texts_b = sample_policy(cfg.policy_b, prompts, cfg, device, log.stage(0.45, 0.9, len(prompts)))
    flat_prompts = [p for p in prompts for _ in range(cfg.samples_per_prompt)]
    by_judge, items = {}, []
    for name, rm in judges.items():
        scores_a = _regroup(rm.score(flat_prompts, [t for ts in texts_a for t in ts], batch_size=cfg.batch_size),
                            cfg.samples_per_prompt)
        scores_b = _regroup(rm.score(flat_prompts, [t for ts in texts_b for t in ts], batch_size=cfg.batch_size),
                            cfg.samples_per_prompt)
        groups = [list(zip(ta, tb, sa, sb)) for ta, tb, sa, sb in zip(texts_a, texts_b, scores_a, scores_b)]
        n = len(prompts) * cfg.samples_per_prompt
        by_judge[name] = {**win_rate_summary(groups, seed=cfg.seed),
                          "mean_reward_a": sum(map(sum, scores_a)) / n, "mean_reward_b": sum(map(sum, scores_b)) / n}
        items = [{"prompt_id": r["prompt_id"], "sample": j, "a": ta[j], "b": tb[j], "reward_a": sa[j],
                  "reward_b": sb[j]} for r, ta, tb, sa, sb in zip(rows, texts_a, texts_b, scores_a, scores_b)
                 for j in range(cfg.samples_per_prompt)]
    log.row(1.0, len(prompts))
    judge = list(judges)[-1]
    return {"mode": "winrate", **by_judge[judge], "judge": judge, "by_judge": by_judge, "split": split,
            "prompts": len(rows), "samples_per_prompt": cfg.samples_per_prompt, "policy_a": cfg.policy_a,
            "policy_b": cfg.policy_b, "items": items}


def _regroup(flat: list[float], k: int) -> list[list[float]]:
    """[s0, s1, ...] → per-prompt lists of ``k``."""
    return [flat[i : i + k] for i in range(0, len(flat), k)]


def _split_rows(snap, split: str, where: str, fallback: bool) -> tuple[list[dict], str]:
    """Rows of ``split`` (auto = valid; with ``fallback`` all rows when there is no valid split)."""
    if split == "auto":
        if snap.valid:
            return snap.valid, "valid"
        if not snap.manifest:  # a single .jsonl file has no splits
            return snap.train, "file"
        if not fallback:
            raise TrainingInputError(f"{where}: no valid (held-out) rows; pass --split train or --split all "
                                     "knowingly (training rows overstate accuracy)")
        split = "all"
    rows = {"all": snap.train + snap.valid, "train": snap.train, "valid": snap.valid}[split]
    if not rows:
        raise TrainingInputError(f"{where}: split {split!r} has no rows")
    return rows, split


def comparison_rows(cfg: EvaluateConfig) -> tuple[list[dict], str]:
    """The comparison rows of the chosen split, and the split's name."""
    from training.data import load_snapshot

    return _split_rows(load_snapshot(cfg.comparisons, "comparisons"), cfg.split, cfg.comparisons, fallback=False)


def prompt_rows(cfg: EvaluateConfig) -> tuple[list[dict], str]:
    """Prompt rows (with prompt_id) of the chosen split, and the split's name."""
    from training.data import load_snapshot

    rows, split = _split_rows(load_snapshot(cfg.prompts, "prompts"), cfg.split, cfg.prompts, fallback=True)
    return [{**r, "prompt_id": r.get("prompt_id", i)} for i, r in enumerate(rows)], split


def run(cfg: EvaluateConfig) -> dict:
    """Evaluate per ``cfg.mode()`` and return the result dict."""
    from training.modeling import pick_device
    from training.reward_model import load_reward_model
    from training.runio import ProgressLog

    mode = cfg.mode()
    rows, split = comparison_rows(cfg) if mode == "accuracy" else (None, None)  # validate before loading models
    if mode == "winrate":
        prompt_rows(cfg)
    device = pick_device(cfg.device)
    log = ProgressLog(Path(cfg.output).parent / "metrics.jsonl" if cfg.output else None)
    paths = [cfg.reward_model] + ([cfg.judge_reward_model] if cfg.judge_reward_model and mode == "winrate" else [])
    judges = {p: load_reward_model(Path(p), device, precision=cfg.precision) for p in paths}
    if mode == "accuracy":
        result = {**pairwise_accuracy(judges[cfg.reward_model], rows, cfg.batch_size, cfg.seed), "split": split}
        log.row(1.0, len(rows))
    else:
        result = win_rate(judges, cfg, device, log)
    result["reward_model"] = cfg.reward_model
    return result


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training evaluate ...``."""
    cfg = parse_config(EvaluateConfig, argv, prog="python -m training evaluate")
    result = run(cfg)
    if cfg.output:
        from training.runio import write_json_atomic

        write_json_atomic(cfg.output, result)
    summary = {k: v for k, v in result.items() if k != "items"}
    json.dump(summary, sys.stdout, indent=2)
    print()
    return 0
