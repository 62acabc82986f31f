"""GPU smoke run: sft → reward → ppo (+ dpo), each with and without LoRA, via the CLI, on synthetic data.

    HF_HUB_OFFLINE=1 python bench/gpu_smoke.py --random-init smollm2       # no hub, no GGUF, no weights needed
    HF_HUB_OFFLINE=1 .venv/bin/python bench/gpu_smoke.py [--model smollm2-135m-instruct] [--skip-dpo]
    .venv/bin/python bench/gpu_smoke.py --device cpu --model tiny --skip-dpo   # check the script itself, no GPU

Needs CUDA (exits 3 with a message otherwise). ``--random-init smollm2`` builds
the SmolLM2-135M architecture (Llama: hidden 576, 30 layers, 9 heads, 3 KV
heads, MLP 1536, vocabulary 49152, tied embeddings) with random weights and a
byte-level BPE tokenizer trained here with ``tokenizers`` (or ``--tokenizer
DIR``, e.g. the real SmolLM2 tokenizer saved by ``prepare-model``), so it runs
on a machine with only torch + transformers + accelerate + peft: the weights
are random, the throughput and memory figures are those of the real shape.
SFT and DPO use TRL (+ datasets); where those are not installed those stages
are reported as skipped, and reward and PPO still run.

Each stage is a ``python -m training ...`` subprocess exactly as the job runner
launches it, in bf16 on CUDA (``--precision auto``); afterwards the script
prints, per stage, wall time, the mean tokens/s over its metrics.jsonl rows and
the peak memory from result.json. Designed to finish in a few minutes on one GPU.
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
        "prompts": write_snapshot(root / "snap-prompts", "prompts", [{"prompt": p} for p in prompts[:28]],
                                  [{"prompt": p} for p in prompts[28:]]),
    }


SMOLLM2_SHAPE = dict(hidden_size=576, num_hidden_layers=30, num_attention_heads=9, num_key_value_heads=3,
                     intermediate_size=1536, vocab_size=49152, tie_word_embeddings=True,
                     max_position_embeddings=8192, rope_theta=100000.0, rms_norm_eps=1e-5)


def random_smollm2(dest: Path, tokenizer_dir: str | None) -> Path:
    """A SmolLM2-135M-shaped Llama with random weights + a local tokenizer, saved as a model folder."""
    import torch
    from transformers import AutoTokenizer, GenerationConfig, LlamaConfig, LlamaForCausalLM

    from training.prepare import build_tiny_tokenizer, chatml_template

    if (dest / "config.json").is_file():
        return dest
    if tokenizer_dir:
        tokenizer = AutoTokenizer.from_pretrained(tokenizer_dir)
        tokenizer.chat_template = tokenizer.chat_template or chatml_template()
    else:  # no hub, no GGUF: a byte-level BPE trained here (ids stay below the model's 49152)
        tokenizer = build_tiny_tokenizer(vocab_size=8192)
    config = LlamaConfig(**SMOLLM2_SHAPE, eos_token_id=tokenizer.eos_token_id, bos_token_id=None,
                         pad_token_id=tokenizer.pad_token_id if tokenizer.pad_token_id is not None
                         else tokenizer.eos_token_id)
    torch.manual_seed(0)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=config.eos_token_id, pad_token_id=config.pad_token_id)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)
    print(f"random-init smollm2: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters -> {dest}")
    return dest


def have_trl() -> bool:
    """TRL and datasets importable (sft and dpo need them)."""
    import importlib.util

    return all(importlib.util.find_spec(name) is not None for name in ("trl", "datasets"))


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
            "peak_mem_gib": round(max(peaks) / 2**30, 2), "memory": result.get("peak_memory_kind")}


def stage_list(args, model: str, snaps: dict, root: Path, trl: bool) -> list[tuple[str, list]]:
    """(name, CLI args) of every stage: each trainer without and with LoRA (reward also head-only)."""
    common = ["--device", args.device, "--logging_steps", "5", "--save_steps", "0"]
    lora = ["--lora_rank", "16"]
    stages = []
    if trl:
        for suffix, extra in (("", []), ("-lora", lora)):
            stages.append((f"sft{suffix}", ["sft", "--model", model, "--data", snaps["sft"], "--output_dir",
                                            root / f"sft{suffix}", "--max_steps", "30", "--batch_size", "8",
                                            "--learning_rate", "5e-5", *common, *extra]))
    sft_model = root / "sft" / "model" if trl else model
    for suffix, extra in (("", []), ("-lora", lora), ("-frozen", ["--freeze_trunk"])):
        stages.append((f"reward{suffix}", ["reward", "--model", sft_model, "--data", snaps["cmp"], "--output_dir",
                                          root / f"reward{suffix}", "--max_steps", "30", "--batch_size", "8",
                                          "--learning_rate", "2e-5", *common, *extra]))
    for suffix, extra in (("", []), ("-lora", [*lora, "--freeze_value_trunk"])):
        stages.append((f"ppo{suffix}", ["ppo", "--model", sft_model, "--reward_model", root / "reward" / "model",
                                        "--prompts", snaps["prompts"], "--output_dir", root / f"ppo{suffix}",
                                        "--max_steps", "5", "--batch_size", "16", "--mini_batch_size", "8",
                                        "--max_new_tokens", "48", "--device", args.device, "--logging_steps", "1",
                                        "--save_steps", "0", "--eval_steps", "0", "--eval_prompts", "8", *extra]))
    if trl and not args.skip_dpo:
        stages.append(("dpo-lora", ["dpo", "--model", sft_model, "--data", snaps["cmp"], "--output_dir",
                                    root / "dpo-lora", "--max_steps", "20", "--batch_size", "8",
                                    "--learning_rate", "1e-6", *common, *lora]))
    return stages


def main() -> int:
    """Run the stages and print a table."""
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--workdir", default="/tmp/prefloop-gpu-smoke")
    ap.add_argument("--model", default="smollm2-135m-instruct")
    ap.add_argument("--random-init", choices=["smollm2"], default=None,
                    help="build the SmolLM2-135M shape with random weights instead of loading --model")
    ap.add_argument("--tokenizer", default=None, help="tokenizer folder for --random-init (default: train one)")
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
    model = str(random_smollm2(root / "random-smollm2", args.tokenizer)) if args.random_init else args.model
    trl = have_trl()
    if args.device == "cuda":
        print(f"gpu: {torch.cuda.get_device_name(0)}, bf16 supported: {torch.cuda.is_bf16_supported()}, "
              f"torch {torch.__version__}")
    if not trl:
        print("sft and dpo: SKIPPED (trl and datasets are not installed here); reward and ppo start from the base")
    table = []
    for name, stage_args in stage_list(args, model, snaps, root, trl):
        seconds = run_stage(name, [str(a) for a in stage_args], root)
        table.append(summarize(name, root / name, seconds))
        print(json.dumps(table[-1]), flush=True)
    print("\nstage           wall_s  steps  tokens/s   peak GiB  last loss")
    for t in table:
        print(f"{t['stage']:<15} {t['wall_s']:>6}  {t['steps']:>5}  {t['tokens_per_s'] or '-':>8}   "
              f"{t['peak_mem_gib']:>8}  {t['last_loss']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
