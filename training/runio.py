"""Run outputs: metrics.jsonl, result.json and the final model folder (checkpoints: ``training.checkpoints``).

Layout of ``--output_dir`` (the job runner tails and reads these):

    metrics.jsonl      one JSON object per logging step, appended while training
    checkpoints/       resumable state, step-00000050/ (ours) or checkpoint-50/ (HF Trainer)
    model/             save_pretrained + tokenizer + prefloop.json; appears only complete
    result.json        written last, atomically: its presence means the run succeeded

Every folder and file that another process may read is written under a temporary
name and renamed into place, so an interrupted run leaves the last good checkpoint
and never a half-written model or result.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import sys
import time
import uuid
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Iterator

MODEL_MARKER = "prefloop.json"


def utc_now() -> str:
    """Current UTC time as an ISO-8601 string."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def write_json_atomic(path: str | os.PathLike, data: Any) -> None:
    """Write JSON to ``path`` via a temp file + rename so readers never see half a file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True, default=str) + "\n", encoding="utf-8")
    os.replace(tmp, path)


@contextlib.contextmanager
def atomic_directory(final: str | os.PathLike) -> Iterator[Path]:
    """Yield a temp folder next to ``final``; on success rename it to ``final``.

    On an exception the temp folder is removed and ``final`` is left untouched.
    An existing ``final`` is replaced (moved aside first because rename onto a
    non-empty directory fails).
    """
    final = Path(final)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = final.with_name(f"{final.name}.tmp-{uuid.uuid4().hex[:8]}")
    tmp.mkdir()
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = None
    if final.exists():
        old = final.with_name(f"{final.name}.old-{uuid.uuid4().hex[:8]}")
        os.rename(final, old)
    os.rename(tmp, final)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def save_model_atomic(model, tokenizer, model_dir: str | os.PathLike, info: dict | None = None) -> Path:
    """save_pretrained the model and tokenizer into ``model_dir``, which appears only when complete.

    ``info`` (lineage, step, base model) goes into ``prefloop.json``, the marker
    that the folder is a finished Prefloop model.
    """
    model_dir = Path(model_dir)
    enable_kv_cache(model)
    with atomic_directory(model_dir) as tmp:
        model.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        write_json_atomic(tmp / MODEL_MARKER, {"saved_at": utc_now(), **(info or {})})
    return model_dir


def enable_kv_cache(model) -> None:
    """Turn the KV cache back on in ``model``'s config before it is saved.

    Trainers switch it off for training. A saved model is for sampling: with ``use_cache: false`` in
    its config, a client's own forward passes return no KV cache (``generate()`` uses one anyway).
    """
    config = getattr(model, "config", None)
    if config is not None and getattr(config, "use_cache", None) is False:
        config.use_cache = True


def peak_memory_bytes(device) -> int | None:
    """Peak memory of this process on ``device``: CUDA max allocated, or peak RSS on a CPU."""
    from training.runtime import peak_memory_bytes as peak

    return peak(device)


class ProgressLog:
    """Progress rows of an inference command (generate, evaluate) appended to a metrics.jsonl.

    The job runner tails ``<output_dir>/metrics.jsonl``; without these rows a
    generate job jumps from 0 to 100 %. Rows: ``{"step", "progress" (0..1),
    "prompts_done", "tokens_per_s", "elapsed_s"}``. ``path=None`` writes nothing.
    """

    def __init__(self, path: str | os.PathLike | None):
        self.path = Path(path) if path is not None else None
        self.step = 0
        self._t0 = time.perf_counter()

    def row(self, progress: float, prompts_done: int, tokens_per_s: float | None = None) -> None:
        """Append one row (flushed at once)."""
        if self.path is None:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        row = {"step": self.step, "progress": round(min(max(progress, 0.0), 1.0), 6), "prompts_done": prompts_done,
               "tokens_per_s": _num(tokens_per_s), "elapsed_s": round(time.perf_counter() - self._t0, 3),
               "time": utc_now()}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        self.step += 1

    def stage(self, start: float, end: float, total_prompts: int):
        """A ``generate_completions`` ``on_batch`` callback mapping its progress into [start, end]."""

        def on_batch(prompts_done: int, new_tokens: int, seconds: float) -> None:
            fraction = prompts_done / max(total_prompts, 1)
            self.row(start + (end - start) * fraction, prompts_done, new_tokens / max(seconds, 1e-9))

        return on_batch


def stage_line(result: dict) -> str:
    """``sft: 812 tokens/s, peak memory 1.42 GiB (cpu_peak_rss), 2 threads`` from a result.json dict."""
    peak, rate = result.get("peak_memory_bytes"), result.get("tokens_per_s")
    mem = f"{peak / 2**30:.2f} GiB ({result.get('peak_memory_kind')})" if peak else "n/a"
    speed = f"{rate:.0f} tokens/s" if rate else "tokens/s n/a"
    return f"{result.get('command')}: {speed}, peak memory {mem}, {result.get('threads')} threads"


def memory_kind(device) -> str:
    """What ``peak_memory_bytes`` measures: cuda_max_allocated or cpu_peak_rss."""
    from training.runtime import memory_kind as kind

    return kind(device)


def torch_threads() -> int:
    """torch's intra-op thread count (what ``--threads`` set)."""
    import torch

    return torch.get_num_threads()


class RunWriter:
    """Writes metrics.jsonl rows and the final result.json of one run."""

    def __init__(self, output_dir: str | os.PathLike, device=None):
        self.output_dir = Path(output_dir)
        self.output_dir.mkdir(parents=True, exist_ok=True)
        self.metrics_path = self.output_dir / "metrics.jsonl"
        self.result_path = self.output_dir / "result.json"
        self.model_dir = self.output_dir / "model"
        self.checkpoint_dir = self.output_dir / "checkpoints"
        self.device = device
        self.started_at = utc_now()
        self._t0 = time.perf_counter()
        self.last_metrics: dict[str, Any] = {}

    def start_fresh(self) -> None:
        """Forget outputs of an earlier run in the same folder (non-resumed start)."""
        for path in (self.metrics_path, self.result_path):
            path.unlink(missing_ok=True)
        shutil.rmtree(self.checkpoint_dir, ignore_errors=True)

    def truncate_after(self, step: int) -> None:
        """Drop metrics rows logged after ``step`` (they belong to work a resume redoes)."""
        if not self.metrics_path.exists():
            return
        rows = [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]
        kept = [r for r in rows if r.get("step", 0) <= step]
        tmp = self.metrics_path.with_name(".metrics.jsonl.tmp")
        tmp.write_text("".join(json.dumps(r) + "\n" for r in kept))
        os.replace(tmp, self.metrics_path)

    def log(self, step: int, progress: float, loss: float | None, lr: float | None,
            tokens_per_s: float | None = None, **extras: Any) -> dict[str, Any]:
        """Append one metrics row (flushed at once so a tailing reader sees it)."""
        row: dict[str, Any] = {
            "step": int(step), "progress": round(min(max(float(progress), 0.0), 1.0), 6),
            "loss": _num(loss), "lr": _num(lr), "tokens_per_s": _num(tokens_per_s),
            "elapsed_s": round(time.perf_counter() - self._t0, 3), "time": utc_now(),
        }
        peak = peak_memory_bytes(self.device) if self.device is not None else None
        if peak is not None:
            row["peak_memory_bytes"] = peak
            row["peak_memory_kind"] = memory_kind(self.device)
        row.update({k: _num(v) if isinstance(v, (int, float)) else v for k, v in extras.items()})
        with self.metrics_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
            fh.flush()
        self.last_metrics = row
        return row

    def mean_tokens_per_s(self) -> float | None:
        """Mean of the tokens_per_s column of metrics.jsonl (None if no row has it)."""
        if not self.metrics_path.exists():
            return None
        rows = [json.loads(line) for line in self.metrics_path.read_text().splitlines() if line.strip()]
        rates = [r["tokens_per_s"] for r in rows if isinstance(r.get("tokens_per_s"), (int, float))]
        return round(sum(rates) / len(rates), 1) if rates else None

    def write_result(self, *, command: str, config: dict, inputs: dict[str, str],
                     metrics: dict | None = None, summary: dict | None = None) -> dict:
        """Write result.json: command, config, input sha256s, final metrics, summary, timing."""
        result = {
            "status": "succeeded", "command": command, "config": config, "inputs": inputs,
            "metrics": metrics if metrics is not None else self.last_metrics, "summary": summary or {},
            "model_dir": str(self.model_dir) if self.model_dir.exists() else None,
            "started_at": self.started_at, "finished_at": utc_now(),
            "duration_s": round(time.perf_counter() - self._t0, 3),
            "peak_memory_bytes": peak_memory_bytes(self.device) if self.device is not None else None,
            "peak_memory_kind": memory_kind(self.device) if self.device is not None else None,
            "threads": torch_threads(),
            "tokens_per_s": self.mean_tokens_per_s(),
        }
        write_json_atomic(self.result_path, result)
        return result


def _num(value: Any) -> Any:
    """JSON-friendly number: tensors → float, NaN/inf → None (JSON has no NaN)."""
    if value is None:
        return None
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return value
    if isinstance(value, float) and (value != value or value in (float("inf"), float("-inf"))):
        return None
    return value


class Throughput:
    """Counts tokens between logging steps and reports tokens per second."""

    def __init__(self):
        self._tokens = 0
        self._t = time.perf_counter()

    def add(self, n_tokens: int) -> None:
        """Count ``n_tokens`` processed since the last report."""
        self._tokens += int(n_tokens)

    def rate(self) -> float:
        """Tokens/s since the previous call (resets the counter)."""
        now = time.perf_counter()
        rate = self._tokens / max(now - self._t, 1e-9)
        self._tokens, self._t = 0, now
        return rate


def progress_bar(total: int, desc: str, initial: int = 0, disable: bool = False):
    """A tqdm bar on a terminal; plain ``desc: step i/N`` lines when stderr is a log file.

    tqdm writes carriage returns that a job log shows as one ever-growing line,
    so a non-terminal gets :class:`PlainProgress` instead. ``disable`` silences
    it on all but the main process of a multi-process run.
    """
    if not sys.stderr.isatty():
        return PlainProgress(total, desc, initial=initial, disable=disable)
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, initial=initial, file=sys.stderr, dynamic_ncols=True, mininterval=0.1,
                disable=disable)


class PlainProgress:
    """Progress for logs: one line per ``every`` steps (default: about 20 lines per run) and at the end."""

    def __init__(self, total: int, desc: str, initial: int = 0, disable: bool = False, every: int | None = None):
        self.total, self.desc, self.n, self.disable = total, desc, initial, disable
        self.every = every or max(1, total // 20)
        self._t0, self._n0 = time.perf_counter(), initial

    def update(self, n: int = 1) -> None:
        """Count ``n`` finished steps; print a line when a multiple of ``every`` (or the last step) is reached."""
        self.n += n
        if not self.disable and (self.n % self.every == 0 or self.n >= self.total):
            print(progress_line(self.desc, self.n, self.total, time.perf_counter() - self._t0, self.n - self._n0),
                  file=sys.stderr, flush=True)

    def close(self) -> None:
        """Nothing to tidy: lines are already flushed."""


def progress_line(desc: str, step: int, total: int, seconds: float, steps_done: int, **extra: Any) -> str:
    """``desc: step 10/100 (10%), 1.2 s/step, ~108 s left, loss 0.51`` for a log file."""
    per_step = seconds / steps_done if steps_done else None
    parts = [f"{desc}: step {step}/{total} ({100 * step / max(total, 1):.0f}%)"]
    if per_step is not None:
        parts.append(f"{per_step:.2f} s/step, ~{per_step * max(total - step, 0):.0f} s left")
    parts += [f"{k} {v:.4g}" if isinstance(v, float) else f"{k} {v}" for k, v in extra.items() if v is not None]
    return ", ".join(parts)
