"""Benchmark: our K-way reward training vs TRL's RewardTrainer on the same rankings.

    HF_HUB_OFFLINE=1 python bench/reward_vs_trl.py                     # tiny model, K=4 and K=9
    HF_HUB_OFFLINE=1 python bench/reward_vs_trl.py --model smollm2-135m-instruct --train-rows 64

Both sides start from the same weights (same seed → same fresh head), see the
same synthetic rankings (a planted rule: more marker words rank higher;
strict rankings by default, so every ranking has all C(K,2) pairs), for the
same number of epochs and the same number of optimizer steps with the same
pairs per step, the same AdamW settings and linear decay, and the same
precision (fp32 weights, bf16 autocast on CUDA, fp32 on CPU).

- ours: one batch = ``--batch-rankings`` rankings; each completion is scored
  once per step (K sequences per ranking), loss = K-way loss.
- TRL: the rankings expanded to all (chosen, rejected) pairs
  (``training.data.to_pairwise``); one batch = the same number of pairs; each
  pair costs two sequences, i.e. K(K-1) sequences per ranking.

Forward passes are counted with a hook on the backbone (sequences that went
through it during training), wall time covers the training loop only (not
tokenisation, model loading or evaluation); process CPU time is printed too
because on a shared machine it is far less sensitive to other jobs than wall
time (on CUDA, wall time is the figure that counts). Held-out pairwise accuracy is
measured the same way for both. Prints a table and the TRL/ours ratios.
Never part of the test pass.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import tempfile
import time
from pathlib import Path
from types import SimpleNamespace

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere in the repo

import torch  # noqa: E402

from training.data import to_pairwise  # noqa: E402
from training.modeling import pick_device, pick_dtype, resolve_model, seed_everything  # noqa: E402
from training.optim import make_optimizer, warmup_schedule  # noqa: E402
from training.order import batch_rows  # noqa: E402
from training.reward import evaluate, tokenize_rows, train_step  # noqa: E402
from training.reward_model import RewardModel, init_reward_model  # noqa: E402
from training.synthetic import planted_rows  # noqa: E402


class ForwardCounter:
    """Counts sequences passing through a module (a forward hook on the backbone)."""

    def __init__(self, module: torch.nn.Module):
        self.n = 0
        self._handle = module.register_forward_hook(self._hook, with_kwargs=True)

    def _hook(self, module, args, kwargs, output):
        ids = args[0] if args else kwargs.get("input_ids")
        self.n += int(ids.shape[0]) if ids is not None else 0

    def close(self) -> None:
        """Remove the hook."""
        self._handle.remove()


def _sync(device) -> None:
    """Wait for queued CUDA work so wall times are real."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def run_ours(model_path, train, valid, args, device, dtype) -> dict:
    """Train with the K-way loss (training.reward's step) and evaluate."""
    seed_everything(args.seed)
    rm = init_reward_model(model_path, device, torch.float32, max_length=args.max_length)
    rm.train()
    train_toks, valid_toks = tokenize_rows(rm, train), tokenize_rows(rm, valid)
    steps = math.ceil(args.epochs * len(train) / args.batch_rankings)
    optimizer = make_optimizer(rm.parameters(), args.lr)
    scheduler = warmup_schedule(optimizer, 0, steps)
    cfg = SimpleNamespace(max_grad_norm=1.0)
    counter = ForwardCounter(rm.model.base_model)
    _sync(device)
    t0, c0 = time.perf_counter(), time.process_time()
    for step in range(steps):
        idx = batch_rows(step, len(train), args.batch_rankings, args.seed)
        train_step(rm, optimizer, scheduler, [train_toks[i] for i in idx], [train[i]["ranking"] for i in idx],
                   cfg, device, dtype)
    _sync(device)
    wall, cpu = time.perf_counter() - t0, time.process_time() - c0
    forwards, _ = counter.n, counter.close()
    acc = evaluate(rm, valid_toks, valid, device, dtype, 64)["pairwise_accuracy"]
    return {"forward_passes": forwards, "wall_s": wall, "cpu_s": cpu, "valid_acc": acc, "steps": steps}


def run_trl(model_path, train, valid, args, device, dtype) -> dict:
    """Train TRL's RewardTrainer on all pairs of the same rankings and evaluate."""
    from datasets import Dataset
    from trl import RewardConfig, RewardTrainer

    seed_everything(args.seed)
    rm = init_reward_model(model_path, device, torch.float32, max_length=args.max_length)
    pairs = to_pairwise(train)
    pairs_per_ranking = len(pairs) / len(train)
    per_step = round(args.batch_rankings * pairs_per_ranking)  # same pairs per optimizer step as ours
    with tempfile.TemporaryDirectory() as out:
        config = RewardConfig(
            output_dir=out, per_device_train_batch_size=per_step, num_train_epochs=args.epochs,
            learning_rate=args.lr, lr_scheduler_type="linear", warmup_steps=0, weight_decay=0.0,
            adam_beta1=0.9, adam_beta2=0.95, adam_epsilon=1e-8, max_grad_norm=1.0,
            gradient_checkpointing=False, bf16=dtype == torch.bfloat16, use_cpu=device.type == "cpu",
            save_strategy="no", eval_strategy="no", report_to=[], logging_steps=10**6, disable_tqdm=True,
            seed=args.seed, data_seed=args.seed, dataloader_num_workers=0, max_length=args.max_length,
        )
        trainer = RewardTrainer(model=rm.model, args=config, train_dataset=Dataset.from_list(pairs),
                                processing_class=rm.tokenizer)
        counter = ForwardCounter(rm.model.base_model)
        _sync(device)
        t0, c0 = time.perf_counter(), time.process_time()
        trainer.train()
        _sync(device)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        forwards, _ = counter.n, counter.close()
        steps = trainer.state.global_step
    model = trainer.model.to(device)
    scorer = RewardModel(model, rm.tokenizer, max_length=args.max_length)
    acc = evaluate(scorer, tokenize_rows(scorer, valid), valid, device, dtype, 64)["pairwise_accuracy"]
    return {"forward_passes": forwards, "wall_s": wall, "cpu_s": cpu, "valid_acc": acc, "steps": steps,
            "pairs": len(pairs)}


def main(argv: list[str] | None = None) -> int:
    """Run both trainers for each K and print the comparison."""
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default="tiny", help="tiny (default), smollm2-135m-instruct, or a folder")
    parser.add_argument("--ks", type=int, nargs="+", default=[4, 9])
    parser.add_argument("--train-rows", type=int, default=256)
    parser.add_argument("--valid-rows", type=int, default=64)
    parser.add_argument("--epochs", type=float, default=1.0)
    parser.add_argument("--batch-rankings", type=int, default=8)
    parser.add_argument("--lr", type=float, default=None, help="default 1e-3 for tiny (random init), 2e-5 otherwise")
    parser.add_argument("--max-length", type=int, default=512)
    parser.add_argument("--ties", action="store_true", help="tied groups in the rankings (fewer pairs)")
    parser.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=0,
                        help="torch CPU threads (0 = torch default); 1 gives the steadiest CPU times on a busy machine")
    parser.add_argument("--repeats", type=int, default=1,
                        help="run each side N times (alternating) and keep the fastest wall time: CPU runs "
                             "on a shared machine are noisy; counts and accuracy are deterministic")
    parser.add_argument("--json", help="also write the results to this file")
    args = parser.parse_args(argv)
    args.lr = args.lr if args.lr is not None else (1e-3 if args.model == "tiny" else 2e-5)
    if args.threads:
        torch.set_num_threads(args.threads)

    model_path = resolve_model(args.model)
    device = pick_device(args.device)
    dtype = pick_dtype(device)
    print(f"model={args.model} device={device} dtype={dtype} threads={torch.get_num_threads()} "
          f"train_rows={args.train_rows} valid_rows={args.valid_rows} epochs={args.epochs} "
          f"batch={args.batch_rankings} rankings lr={args.lr} ties={args.ties}")
    results = []
    for k in args.ks:
        train = planted_rows(args.train_rows, k, seed=args.seed + 1, ties=args.ties, max_count=k - 1)
        valid = planted_rows(args.valid_rows, k, seed=args.seed + 2, ties=args.ties, max_count=k - 1)
        ours_runs, trl_runs = [], []
        for _ in range(args.repeats):
            ours_runs.append(run_ours(model_path, train, valid, args, device, dtype))
            trl_runs.append(run_trl(model_path, train, valid, args, device, dtype))
        ours, trl = _fastest(ours_runs), _fastest(trl_runs)
        results.append({"k": k, "ours": ours, "trl": trl})
        _print(k, ours, trl)
    if args.json:
        Path(args.json).write_text(json.dumps({"args": vars(args), "results": results}, indent=2) + "\n")
    return 0


def _fastest(runs: list[dict]) -> dict:
    """The first run's counts and accuracy with the minimum wall time over all runs (and all of them)."""
    best = dict(runs[0])
    best["wall_s_all"] = [round(r["wall_s"], 3) for r in runs]
    best["wall_s"] = min(r["wall_s"] for r in runs)
    best["cpu_s"] = min(r["cpu_s"] for r in runs)
    return best


def _print(k: int, ours: dict, trl: dict) -> None:
    """One block of the report."""
    print(f"\nK={k}")
    print(f"  {'':6} {'forward passes':>15} {'wall s':>9} {'cpu s':>9} {'steps':>6} {'held-out acc':>13}")
    for name, r in (("ours", ours), ("TRL", trl)):
        print(f"  {name:6} {r['forward_passes']:>15} {r['wall_s']:>9.2f} {r['cpu_s']:>9.2f} {r['steps']:>6} "
              f"{r['valid_acc']:>13.4f}")
    print(f"  ratio TRL/ours: forward passes {trl['forward_passes'] / ours['forward_passes']:.2f}x "
          f"(K-1 = {k - 1}), wall time {trl['wall_s'] / ours['wall_s']:.2f}x, "
          f"cpu time {trl['cpu_s'] / ours['cpu_s']:.2f}x, "
          f"accuracy ours-TRL {ours['valid_acc'] - trl['valid_acc']:+.4f}")


if __name__ == "__main__":
    sys.exit(main())
