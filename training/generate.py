"""Sample K completions per prompt, batched (InstructGPT: the policy's outputs become ranking tasks).

    python -m training generate --model runs/sft/model --prompts PROMPTS --output out.jsonl \
        [--k 4] [--temperature 1.0] [--top_p 1.0] [--max_new_tokens 128] [--seed 0] [--batch_size 32]

Input: a ``prompts`` snapshot folder or a .jsonl of ``{"prompt": [messages], "prompt_id": ...}``.
Output: JSONL, one row per prompt: ``{prompt_id, prompt, completions: [...], model, settings}``.

Batching: prompts are left-padded and ``batch_size`` sequences (prompt × sample)
run per forward pass through HF ``generate``. Reproducibility: every sequence
(prompt i, sample j) draws its tokens from its own CPU generator seeded from
(seed, i, j) — a logits processor samples by inverse CDF and hands HF a one-hot
choice, so HF's own greedy loop does the rest. The draws therefore do not depend on
batch size or order, and greedy decoding (``--temperature 0``) is plain argmax.
"""

from __future__ import annotations

import hashlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Literal

import torch

from training.config import PRECISION_HELP, THREADS_HELP, parse_config
from training.errors import TrainingInputError
from training.optim import autocast


@dataclass
class GenerationSettings:
    """How to sample: K completions per prompt, temperature 0 means greedy."""

    k: int = 4
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 128
    seed: int = 0

    def __post_init__(self):
        if self.k < 1 or self.max_new_tokens < 1:
            raise TrainingInputError("generation: k and max_new_tokens must be >= 1")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise TrainingInputError("generation: temperature must be >= 0 and top_p in (0, 1]")


def row_seed(seed: int, prompt_index: int, sample_index: int) -> int:
    """Seed for one sequence, derived from (seed, prompt, sample) so it ignores batch layout."""
    digest = hashlib.sha256(f"{seed}:{prompt_index}:{sample_index}".encode()).digest()
    return int.from_bytes(digest[:8], "little") & (2**63 - 1)


class SeededSampler:
    """Logits processor: temperature + top-p, then one seeded draw per row, returned as a one-hot score.

    HF ``generate`` runs in greedy mode and picks the one allowed token, so all
    randomness comes from our per-row generators.
    """

    def __init__(self, seeds: list[int], temperature: float, top_p: float):
        self.generators = [torch.Generator().manual_seed(s) for s in seeds]
        self.temperature, self.top_p = temperature, top_p

    def __call__(self, input_ids: torch.LongTensor, scores: torch.FloatTensor) -> torch.FloatTensor:
        """Return scores that are 0 at the sampled token and -inf elsewhere."""
        probs = torch.softmax(scores.float() / self.temperature, dim=-1)
        order = None
        if self.top_p < 1.0:
            probs, order = nucleus(probs, self.top_p)
        cdf = probs.cumsum(-1)
        u = torch.stack([torch.rand((), generator=g) for g in self.generators]).to(cdf.device)
        pos = torch.searchsorted(cdf, (u * cdf[:, -1]).unsqueeze(-1)).clamp(max=cdf.shape[-1] - 1)
        chosen = pos if order is None else order.gather(-1, pos)
        out = torch.full_like(scores, float("-inf"))
        return out.scatter_(-1, chosen, 0.0)


def nucleus(probs: torch.Tensor, top_p: float, k: int = 256) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-p filter: (probabilities sorted descending with the tail zeroed, their token ids).

    Sorting a 49k vocabulary for every row costs as much as a small model's forward
    pass on CPU, so look at the top ``k`` first; only when some row's nucleus is
    wider than that (a very flat distribution) fall back to a full sort. Exact either way.
    """
    vals, ids = probs.topk(min(k, probs.shape[-1]), dim=-1)
    if bool((vals.sum(-1) < top_p).any()):
        vals, ids = probs.sort(dim=-1, descending=True)
    drop = (vals.cumsum(-1) - vals) >= top_p  # keep the smallest prefix reaching top_p (top token always kept)
    return vals.masked_fill(drop, 0.0), ids


def eos_ids(model, tokenizer) -> list[int]:
    """All token ids that end a turn (tokenizer eos + the model's generation config)."""
    ids = {tokenizer.eos_token_id}
    extra = getattr(model.generation_config, "eos_token_id", None)
    ids.update(extra if isinstance(extra, list) else [extra])
    return sorted(i for i in ids if i is not None)


def _generate_batch(model, tokenizer, texts, seeds, settings, stops):
    """Generate one batch of left-padded prompts; return (texts, new-token counts)."""
    from transformers import GenerationConfig, LogitsProcessorList

    enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    # use_cache explicitly: a model saved by a trainer says use_cache=false in its config. Today's
    # transformers samples with the cache anyway (its generation default wins), and this keeps it so.
    config = GenerationConfig(max_new_tokens=settings.max_new_tokens, do_sample=False, num_beams=1,
                              eos_token_id=stops, pad_token_id=tokenizer.pad_token_id, use_cache=True)
    processors = LogitsProcessorList()
    if settings.temperature > 0:
        processors.append(SeededSampler(seeds, settings.temperature, settings.top_p))
    with torch.inference_mode():
        out = model.generate(**enc, generation_config=config, logits_processor=processors)
    new = out[:, enc["input_ids"].shape[1]:].cpu()
    is_stop = torch.isin(new, torch.tensor(stops))
    # tokens up to and including the first stop token (the rest is padding)
    lengths = torch.where(is_stop.any(-1), is_stop.int().argmax(-1) + 1, torch.full_like(new[:, 0], new.shape[1]))
    decoded = [tokenizer.decode(row[:n], skip_special_tokens=True).strip() for row, n in zip(new, lengths)]
    return decoded, int(lengths.sum())


def generate_completions(model, tokenizer, prompts: list[list[dict]], settings: GenerationSettings,
                         batch_size: int = 32, indices: list[int] | None = None,
                         stats: dict | None = None, on_batch=None, compute_dtype=None) -> list[list[str]]:
    """Return ``settings.k`` completions for each prompt (a message list), batching sequences.

    ``batch_size`` counts sequences (prompt × sample) per forward pass. ``indices``
    are the prompts' positions in the full input (seeds derive from them; default
    0..n-1). If ``stats`` is a dict it receives ``new_tokens`` and ``seconds``.
    ``on_batch(prompts_done, new_tokens, seconds)`` is called after every batch
    (progress reporting). ``compute_dtype`` bf16 autocasts the forward passes
    (fp32 weights on a CPU, see :func:`training.modeling.inference_weights_dtype`).
    """
    if tokenizer.padding_side != "left":
        tokenizer.padding_side = "left"  # every prompt must end where generation starts
    indices = list(range(len(prompts))) if indices is None else indices
    texts = [tokenizer.apply_chat_template(p, tokenize=False, add_generation_prompt=True) for p in prompts]
    greedy = settings.temperature == 0
    # greedy samples are all identical: decode each prompt once and copy
    rows = [(i, j) for i in range(len(prompts)) for j in range(1 if greedy else settings.k)]
    rows.sort(key=lambda r: len(texts[r[0]]))  # similar lengths together: less padding
    stops = eos_ids(model, tokenizer)
    results: list[list[str | None]] = [[None] * settings.k for _ in prompts]
    new_tokens, t0 = 0, time.perf_counter()
    left = [1 if greedy else settings.k for _ in prompts]  # samples still to draw per prompt
    done = 0
    for start in range(0, len(rows), batch_size):
        chunk = rows[start:start + batch_size]
        seeds = [row_seed(settings.seed, indices[i], j) for i, j in chunk]
        with autocast(model.device, compute_dtype or model.dtype):
            decoded, n = _generate_batch(model, tokenizer, [texts[i] for i, _ in chunk], seeds, settings, stops)
        new_tokens += n
        for (i, j), text in zip(chunk, decoded):
            results[i][j] = text
            left[i] -= 1
            done += left[i] == 0
        if on_batch is not None:
            on_batch(done, new_tokens, time.perf_counter() - t0)
    if greedy:
        results = [[r[0]] * settings.k for r in results]
    if stats is not None:
        stats.update(new_tokens=new_tokens, seconds=time.perf_counter() - t0)
    return results


# ---------------------------------------------------------------- CLI

@dataclass(kw_only=True)
class GenerateConfig:
    """Sample K completions per prompt from a model."""

    model: str = field(metadata={"help": "Model folder or registered name."})
    prompts: str = field(metadata={"help": "prompts snapshot folder or .jsonl of {prompt, prompt_id}."})
    output: str = field(metadata={"help": "Output .jsonl: {prompt_id, prompt, completions, model, settings}."})
    k: int = field(default=4, metadata={"help": "Completions per prompt."})
    temperature: float = field(default=1.0, metadata={"help": "Sampling temperature; 0 = greedy."})
    top_p: float = field(default=1.0, metadata={"help": "Nucleus sampling mass."})
    max_new_tokens: int = field(default=128, metadata={"help": "Maximum tokens per completion."})
    seed: int = field(default=0, metadata={"help": "Base seed; each (prompt, sample) derives its own."})
    batch_size: int = field(default=32, metadata={"help": "Sequences per forward pass."})
    device: Literal["auto", "cpu", "cuda"] = field(default="auto", metadata={"help": "auto, cpu or cuda."})
    threads: int = field(default=0, metadata={"help": THREADS_HELP})
    precision: Literal["auto", "fp32", "bf16"] = field(default="auto", metadata={"help": PRECISION_HELP})

    def settings(self) -> GenerationSettings:
        """The sampling part of the config."""
        return GenerationSettings(k=self.k, temperature=self.temperature, top_p=self.top_p,
                                  max_new_tokens=self.max_new_tokens, seed=self.seed)


def load_prompts(path: str) -> list[dict]:
    """Prompt rows from a prompts snapshot (train + valid) or .jsonl, with prompt_id filled in."""
    from training.data import load_snapshot

    snap = load_snapshot(path, "prompts")
    rows = snap.train + snap.valid
    return [{**r, "prompt_id": r.get("prompt_id", i)} for i, r in enumerate(rows)]


def write_jsonl_atomic(path: Path, rows: list[dict]) -> None:
    """Write JSONL via temp file + rename, so a reader never sees a partial output."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    os.replace(tmp, path)


def main(argv: list[str] | None = None) -> int:
    """CLI entry: ``python -m training generate ...``."""
    from training.modeling import load_inference_lm, load_tokenizer, pick_device, pick_dtype
    from training.modeling import resolve_model
    from training.runio import ProgressLog
    from training.runtime import memory_kind, peak_memory_bytes

    cfg = parse_config(GenerateConfig, argv, prog="python -m training generate")
    settings = cfg.settings()
    if cfg.batch_size < 1:
        raise TrainingInputError("config: batch_size must be >= 1")
    rows = load_prompts(cfg.prompts)
    model_path = resolve_model(cfg.model)
    device = pick_device(cfg.device)
    tokenizer = load_tokenizer(model_path, padding_side="left")
    compute = pick_dtype(device, cfg.precision, model_path)
    model = load_inference_lm(model_path, device, compute)
    stats: dict = {}
    log = ProgressLog(Path(cfg.output).parent / "metrics.jsonl")
    log.row(0.0, 0)
    completions = generate_completions(model, tokenizer, [r["prompt"] for r in rows], settings, cfg.batch_size,
                                       stats=stats, on_batch=log.stage(0.0, 1.0, len(rows)), compute_dtype=compute)
    out = [{"prompt_id": r["prompt_id"], "prompt": r["prompt"], "completions": c, "model": str(model_path),
            "settings": asdict(settings)} for r, c in zip(rows, completions)]
    write_jsonl_atomic(Path(cfg.output), out)
    rate = stats["new_tokens"] / max(stats["seconds"], 1e-9)
    peak = peak_memory_bytes(device) or 0
    print(f"generate: {len(out)} prompts × {settings.k} → {cfg.output} ({rate:.0f} new tokens/s, peak memory "
          f"{peak / 2**30:.2f} GiB ({memory_kind(device)}), {torch.get_num_threads()} threads)", file=sys.stderr)
    return 0
