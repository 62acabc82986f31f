"""PPO on SmolLM2-135M: yesterday's settings against the efficient ones, in one run.

    HF_HUB_OFFLINE=1 .venv/bin/python bench/ppo_smollm2.py [--steps 2] [--threads 1] [--workdir /tmp/ppo-bench]

Arms (the same PPO hyperparameters: 8 episodes per step, minibatch 4, 4 PPO
epochs, up to 48 new tokens; only the efficiency settings differ):

* ``baseline``: full fine-tune, fp32, a separate reference copy, value model
  trained end to end (what ``python -m training ppo`` did before issue 9).
* ``efficient``: LoRA adapters (rank 16) on the top 8 of 30 blocks of the
  policy (backward stops there), reference = the policy with adapters off,
  value head on a frozen trunk (features cached per rollout), bf16 autocast
  where the CPU has native bf16 (``--precision auto``).

``--parallel`` runs the arms at the same time: on a shared machine whose load
swings from 5 to 20 within minutes, arms run one after the other measure the
neighbours as much as the code; side by side they see the same load.
Each arm is one ``python -m training ppo`` subprocess, exactly as the job
runner launches it, so its peak memory is its own process's peak RSS
(``VmHWM``; CUDA ``max_memory_allocated`` on a GPU). Episodes/s is read from
the ``episodes_per_s`` column of metrics.jsonl (PPO steps only: the held-out
evaluations at step 0 and at the end are not counted). The reward model is
SmolLM2 with an untrained scalar head: this bench measures speed and memory,
not learning. Prints one table and the ratios; targets: >= 5x episodes/s,
<= 3 GB peak.
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
EPISODES = 8
COMMON = ["--batch_size", str(EPISODES), "--mini_batch_size", "4", "--ppo_epochs", "4", "--max_new_tokens", "48",
          "--logging_steps", "1", "--save_steps", "0", "--eval_steps", "0", "--eval_prompts", "4",
          "--learning_rate", "1e-5", "--device", "cpu"]
ARMS = {
    "baseline": ["--lora_rank", "0", "--precision", "fp32"],
    "efficient": ["--lora_rank", "16", "--lora_layers", "8", "--freeze_value_trunk", "--precision", "auto"],
}


def write_prompts(folder: Path) -> Path:
    """A prompts snapshot (train + valid) of short writing requests."""
    from tests.training.helpers import write_snapshot

    rows = [{"prompt": [{"role": "user", "content": f"Write two sentences about {t}."}]} for t in TOPICS * 3]
    return write_snapshot(folder, "prompts", rows[:16], rows[16:])


def untrained_reward_model(model_dir: Path, dest: Path) -> Path:
    """SmolLM2 with a seeded random scalar head, saved as a reward-model folder (once)."""
    if (dest / "reward_config.json").is_file():
        return dest
    import torch

    from training.reward_model import init_reward_model

    torch.manual_seed(0)
    init_reward_model(model_dir, "cpu", torch.float32).save_pretrained(dest)
    return dest


def start_arm(name: str, extra: list[str], model: Path, rm: Path, prompts: Path, out: Path, steps: int,
              threads: int) -> subprocess.Popen:
    """Start one arm as a subprocess (output in ``<out>.log``)."""
    cmd = [sys.executable, "-m", "training", "ppo", "--model", str(model), "--reward_model", str(rm),
           "--prompts", str(prompts), "--output_dir", str(out), "--max_steps", str(steps),
           "--threads", str(threads), *COMMON, *extra]
    print(f"\n=== {name}: {' '.join(cmd[2:])}", flush=True)
    log = out.with_suffix(".log").open("w")
    return subprocess.Popen(cmd, cwd=REPO, stdout=log, stderr=subprocess.STDOUT,
                            env={**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"})


def finish_arm(name: str, proc: subprocess.Popen, out: Path, t0: float) -> dict:
    """Wait for an arm; return episodes/s, tokens/s, peak memory, phase times and wall time."""
    if proc.wait() != 0:
        raise SystemExit(f"{name} failed (exit {proc.returncode}):\n{out.with_suffix('.log').read_text()[-3000:]}")
    rows = [json.loads(x) for x in (out / "metrics.jsonl").read_text().splitlines() if x.strip()]
    steps_rows = [r for r in rows if r["step"] > 0]
    result = json.loads((out / "result.json").read_text())
    seconds = [EPISODES / r["episodes_per_s"] for r in steps_rows]  # one PPO step each

    def mean(key: str) -> float:
        return round(sum(r[key] for r in steps_rows) / len(steps_rows), 1)

    return {"arm": name, "wall_s": round(time.perf_counter() - t0, 1), "steps": len(seconds),
            "s_per_step": round(sum(seconds) / len(seconds), 1),
            "episodes_per_s": round(EPISODES * len(seconds) / sum(seconds), 4),
            "generate_s": mean("time_generate_s"), "score_s": mean("time_score_s"), "update_s": mean("time_update_s"),
            "tokens_per_s": result.get("tokens_per_s"),
            "peak_gib": round(result["peak_memory_bytes"] / 2**30, 2), "memory": result.get("peak_memory_kind"),
            "precision": result["summary"].get("precision")}


def main() -> int:
    """Prepare inputs, run both arms, print the table and ratios."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=2, help="PPO steps per arm")
    ap.add_argument("--threads", type=int, default=1, help="torch threads for both arms")
    ap.add_argument("--workdir", default="/tmp/prefloop-ppo-bench")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--arms", default="baseline,efficient", help="comma list of arms to run")
    ap.add_argument("--efficient-steps", type=int, default=None,
                    help="steps of the efficient arm (default --steps; more keeps it running as long as the baseline)")
    ap.add_argument("--parallel", action="store_true",
                    help="run the arms at the same time, so both see the same load from other jobs on a shared box")
    args = ap.parse_args()
    from training.modeling import resolve_model

    root = Path(args.workdir)
    root.mkdir(parents=True, exist_ok=True)
    model = resolve_model(args.model)
    rm = untrained_reward_model(model, root / "rm")
    prompts = write_prompts(root / "prompts")
    names = args.arms.split(",")
    steps = {n: args.efficient_steps if n == "efficient" and args.efficient_steps else args.steps for n in names}
    table, t0 = [], time.perf_counter()
    if args.parallel:
        procs = {n: start_arm(n, ARMS[n], model, rm, prompts, root / n, steps[n], args.threads) for n in names}
        table = [finish_arm(n, p, root / n, t0) for n, p in procs.items()]
    else:
        for n in names:
            t0 = time.perf_counter()
            proc = start_arm(n, ARMS[n], model, rm, prompts, root / n, steps[n], args.threads)
            table.append(finish_arm(n, proc, root / n, t0))
    mode = "at the same time" if args.parallel else "one after the other"
    print(f"\nPPO on {args.model}, 8 episodes per step, arms run {mode}, {args.threads} thread(s) each, "
          f"load average {os.getloadavg()[0]:.1f}")
    print("arm         s/step (generate + score + update)  episodes/s  tokens/s  peak GiB  precision")
    for t in table:
        parts = f"({t['generate_s']} + {t['score_s']} + {t['update_s']})"
        print(f"{t['arm']:<10} {t['s_per_step']:>7} {parts:<26} {t['episodes_per_s']:>10}  "
              f"{t['tokens_per_s'] or '-':>8}  {t['peak_gib']:>8}  {t['precision']}  ({t['memory']})")
    if len(table) == 2:
        base, eff = table
        speed = eff["episodes_per_s"] / base["episodes_per_s"]
        print(f"\nefficient / baseline: {speed:.1f}x episodes/s (target >= 5x), peak memory "
              f"{eff['peak_gib']} GiB vs {base['peak_gib']} GiB (target <= 3 GB = 2.79 GiB)")
    json.dump(table, sys.stdout)
    print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
