"""The demo's candidate outputs: ``python -m training generate`` run batch by batch, with progress and a cache.

Why one child process per batch of prompts: ``generate`` prints one line when it has finished *all* its
prompts, so a single run shows no sign of life for minutes on a slow CPU (the first ``make demo`` printed
nothing for 27 minutes, then gave up). A child per batch gives a progress line with an ETA after every
batch, and each batch's output is cached in ``var/demo/`` as it lands, so an interrupted or timed-out run
resumes where it stopped. The price is loading the model once per batch (~10 s on the 2-core machine).

Why one thread per child unless ``OMP_NUM_THREADS`` says otherwise, and two children at once on a machine
with two cores or more: on the busy 2-core development machine, SmolLM2 sampled 35 new tokens/s with 1
OpenMP thread and 9 tokens/s with 2 (the threads wait for each other at every operation while the machine's
other processes hold the cores); independent single-threaded processes never wait for each other.
"""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path

PROMPTS_PER_BATCH = 4  # x K=4 samples = 16 sequences: one forward batch per child


@dataclass
class SampleRun:
    """What a sampling run produced: texts by prompt index, and why it stopped early ('' if it did not)."""

    outputs: dict[int, list[str]] = field(default_factory=dict)
    problem: str = ""
    seconds: float = 0.0


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.1f} min"


class DemoSampler:
    """Samples ``generation["k"]`` outputs for each prompt (a message list) with ``model_name``.

    ``write`` prints one console line (the management command's stdout). ``python`` and ``env`` are how
    the training CLI is started (it never shares a process with Django).
    """

    def __init__(self, *, model_name: str, prompts: list[list[dict]], generation: dict, folder: Path,
                 python: str, env: dict[str, str], cwd: Path, write, batch_prompts: int = PROMPTS_PER_BATCH,
                 workers: int = 1):
        self.model_name, self.prompts, self.generation = model_name, prompts, generation
        self.python, self.cwd, self.write = python, cwd, write
        self.batch_prompts, self.workers = batch_prompts, max(1, workers)
        self.env = {**env, "OMP_NUM_THREADS": env.get("OMP_NUM_THREADS") or "1"}
        # Everything that changes the texts is in the key (the batch layout too: seeds are per batch).
        key = hashlib.sha256(json.dumps([prompts, generation, model_name, batch_prompts], sort_keys=True)
                             .encode()).hexdigest()[:16]
        self.final = folder / f"generations-{key}.jsonl"
        self.parts = folder / f"generations-{key}.parts"

    # ------------------------------------------------------------------ public

    def sample(self, *, timeout: float) -> SampleRun:
        """Prepare the model, then sample every batch not cached yet, within ``timeout`` seconds in all."""
        if self.final.is_file():
            self.write(f"{self.model_name} outputs: cached in {self.final}")
            return SampleRun(outputs=self._read(self.final))
        started = time.monotonic()
        deadline = started + timeout
        self.write(f"preparing {self.model_name} (once: for SmolLM2, GGUF → transformers folder, about a minute) ...")
        problem = self._run(["prepare-model", self.model_name], deadline)
        if problem:
            return SampleRun(problem=problem, seconds=time.monotonic() - started)
        run = self._sample_batches(deadline)
        run.seconds = time.monotonic() - started
        if not run.problem:
            self.final.write_text("".join(p.read_text(encoding="utf-8") for p in self._part_paths()), encoding="utf-8")
            self.write(f"{self.model_name} outputs for {len(run.outputs)} prompts written to {self.final} "
                       f"in {_fmt_seconds(run.seconds)}")
        return run

    # ------------------------------------------------------------------ batches

    def _part_paths(self) -> list[Path]:
        return [self.parts / f"batch-{start:03d}.jsonl" for start in range(0, len(self.prompts), self.batch_prompts)]

    def _sample_batches(self, deadline: float) -> SampleRun:
        paths = self._part_paths()
        todo = {(n - 1) * self.batch_prompts: p for n, p in enumerate(paths, 1) if not p.is_file()}
        self.write(
            f"sampling {self.generation['k']} outputs for each of {len(self.prompts)} prompts with {self.model_name} "
            f"on the CPU: {len(todo)} batch(es) of {self.batch_prompts} prompts to go "
            f"({len(paths) - len(todo)} cached), {self.generation['max_new_tokens']} new tokens at most, "
            f"{self.workers} at a time with {self.env['OMP_NUM_THREADS']} thread(s) each"
        )
        run, begun, durations = SampleRun(), time.monotonic(), []
        self.parts.mkdir(parents=True, exist_ok=True)
        with ThreadPoolExecutor(max_workers=self.workers) as pool:
            futures = {pool.submit(self._timed_batch, start, path, deadline): start for start, path in todo.items()}
            for future in as_completed(futures):
                start, (problem, seconds) = futures[future], future.result()
                if problem:
                    run.problem = run.problem or problem
                    continue
                durations.append(seconds)
                last = min(start + self.batch_prompts, len(self.prompts))
                self.write(f"  batch {len(durations)}/{len(todo)} done (prompts {start + 1}-{last}), "
                           f"{_fmt_seconds(time.monotonic() - begun)} so far{self._eta(durations, len(todo))}")
        for path in paths:
            if path.is_file():
                run.outputs.update(self._read(path))
        return run

    def _eta(self, durations: list[float], total: int) -> str:
        """", about N min left": batches still to finish, ``workers`` at a time, at the mean batch time so
        far; those running now count as half done (they started together with the ones that finished)."""
        left = total - len(durations)
        if not left:
            return ""
        running = min(self.workers, left)
        return f", about {_fmt_seconds(sum(durations) / len(durations) * (left - running / 2) / self.workers)} left"

    def _timed_batch(self, start: int, path: Path, deadline: float) -> tuple[str, float]:
        began = time.monotonic()
        return self._sample_batch(start, path, deadline), time.monotonic() - began

    def _sample_batch(self, start: int, path: Path, deadline: float) -> str:
        """Sample prompts ``start…`` into ``path``; '' on success, else what went wrong."""
        batch = self.prompts[start:start + self.batch_prompts]
        prompts_file = self.parts / f"prompts-{start:03d}.jsonl"
        prompts_file.write_text("".join(json.dumps({"prompt": p, "prompt_id": start + i}, ensure_ascii=False) + "\n"
                                        for i, p in enumerate(batch)), encoding="utf-8")
        # generate derives each sequence's seed from (seed, position in its file, sample): offset the seed by
        # the batch's first prompt so that batches do not repeat each other's random draws.
        settings = {**self.generation, "seed": self.generation["seed"] + start}
        return self._run(["generate", "--model", self.model_name, "--prompts", str(prompts_file),
                          "--output", str(path), "--batch_size", str(len(batch) * self.generation["k"]),
                          "--device", "cpu", *[x for k, v in settings.items() for x in (f"--{k}", str(v))]],
                         deadline)

    def _run(self, args: list[str], deadline: float) -> str:
        """Run ``python -m training ARGS``; '' on success, else a message naming the command and its error."""
        command = f"`python -m training {args[0]}`"
        left = deadline - time.monotonic()
        if left <= 0:
            return f"{command} was not started: the time allowed (--timeout) is used up"
        try:
            proc = subprocess.run([self.python, "-m", "training", *args], env=self.env, cwd=self.cwd,
                                  capture_output=True, text=True, timeout=left)
        except subprocess.TimeoutExpired:
            return f"{command} was stopped: the time allowed (--timeout) ran out"
        except OSError as exc:
            return f"{command} could not run: {exc}"
        if proc.returncode != 0:
            tail = "\n".join((proc.stderr or proc.stdout).strip().splitlines()[-5:])
            return f"{command} failed (exit {proc.returncode}):\n{tail}"
        return ""

    @staticmethod
    def _read(path: Path) -> dict[int, list[str]]:
        rows = (json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        return {int(row["prompt_id"]): row["completions"] for row in rows}
