"""``python -m training ppo``: PPO-ptx against a reward model (InstructGPT step 3).

    python -m training ppo --model runs/sft/model --reward_model runs/rm/model \\
        --prompts snapshots/prompts-7 --output_dir runs/ppo --max_steps 200 \\
        [--ptx_data snapshots/sft-3 --ptx_coef 1.0] [--kl_target 6] [--resume]

    # without a reward model, against a known function (tests, debugging):
    python -m training ppo --model tiny --reward_fn contains:paris --prompts p.jsonl --output_dir runs/dbg

Models in play:
- policy: initialised from ``--model`` (the SFT model), trained.
- reference: a frozen copy of ``--model``; the per-token KL penalty pulls towards it.
- value model: a separate scalar-head LM initialised from the reward model
  (InstructGPT), i.e. the RM backbone + its head applied at every token;
  with ``--reward_fn`` it is the policy's backbone with a fresh head. Trained.
- reward: the frozen reward model (normalised score of prompt + response) or
  the builtin function.

One step = sample ``batch_size`` episodes, score them, compute KL-penalised
per-token rewards and GAE advantages, then ``ppo_epochs`` passes of
minibatch updates of policy + value (+ gamma x SFT NLL on ``--ptx_data``).
Models stay in eval mode throughout (dropout off), so the log-probs recorded
at sampling time are exactly those the first update recomputes.

Trained weights are float32; on CUDA all forwards run under bf16 autocast.
The reference is also float32 under the same autocast, so KL is exactly 0
before the first update.

Several GPUs (DDP, one full copy of every model per GPU; ``training.dist``)::

    accelerate launch --config_file docker/accelerate/ddp.yaml --num_processes 4 \\
        -m training ppo --model runs/sft/model --reward_model runs/rm/model --prompts snapshots/prompts-7 \\
        --output_dir runs/ppo --batch_size 64 --mini_batch_size 16

``batch_size`` and ``mini_batch_size`` stay global and must be multiples of
the process count. Each process samples its slice of the prompts; rollouts are
gathered so advantages, whitening, the KL controller and the logged statistics
are those of the whole batch; each minibatch update is split across processes
(see ``training.ppo.step``). Policy and value are prepared (DDP); the frozen
reference and reward model are only moved to each process's device. Only the
main process writes metrics.jsonl, checkpoints, ``model/`` and result.json.

Modules: ``context`` (models and optimizer), ``step`` (one PPO step), this
one (the run: resume, logging, checkpoints, outputs).
"""

from __future__ import annotations

import sys

from training.config import parse_config
from training.dist import capture_rng_states, decorrelate_rng, restore_rng_states
from training.ppo.config import PPOConfig
from training.lora import has_adapters, merge_adapters
from training.lowp import restore_fp32
from training.ppo.context import Context
from training.ppo.heldout import eval_prompts, evaluate_policy, hacking_warning
from training.ppo.step import ppo_step
from training.checkpoints import load_latest_checkpoint, save_checkpoint
from training.runio import RunWriter, progress_bar, save_model_atomic
from training.runio import stage_line

__all__ = ["Context", "main", "ppo_step", "run"]

# Indirection so tests can simulate a crash mid-run (monkeypatch step_fn).
step_fn = ppo_step


def run(cfg: PPOConfig) -> dict:
    """Train, save the policy atomically, write result.json; return it ({} on processes other than the main one)."""
    ctx = Context(cfg)
    acc = ctx.accelerator
    writer = RunWriter(cfg.output_dir, ctx.device)
    start, state = _maybe_resume(ctx, writer)
    prompts, split = eval_prompts(ctx.prompts_snap, cfg.eval_prompts)
    if start == 0 and acc.is_main_process:  # the starting policy, before any update: step 0
        state["eval0"] = evaluate_policy(ctx, prompts, split)
        writer.log(0, 0.0, None, None, None, kl=0.0, **state["eval0"])
    bar = progress_bar(cfg.max_steps, "ppo", initial=start, disable=not acc.is_main_process)
    for step in range(start + 1, cfg.max_steps + 1):
        stats = step_fn(ctx, step)  # global figures, the same on every process
        state["reward_history"].append(stats["reward_mean"])
        state.setdefault("first_spread", stats["reward_std"])
        state["window"].append(stats)
        due = bool(cfg.eval_steps and step % cfg.eval_steps == 0) or step == cfg.max_steps
        extras = _heldout(ctx, state, prompts, split) if due and acc.is_main_process else {}
        if step % cfg.logging_steps == 0 or step == cfg.max_steps or due:
            if acc.is_main_process:
                _log(writer, step, cfg, ctx, state["window"], extras)
            state["window"].clear()
        if cfg.save_steps and step % cfg.save_steps == 0 and step < cfg.max_steps:
            _checkpoint(ctx, writer, step, state)
        bar.update(1)
    bar.close()
    result = _finish(ctx, writer, state) if acc.is_main_process else {}
    acc.wait_for_everyone()  # nobody tears the process group down while the main one still writes
    acc.end_training()
    return result


def _heldout(ctx: Context, state: dict, prompts: list, split: str) -> dict:
    """Held-out evaluation of the current policy, plus a reward-hacking warning when one applies."""
    out = evaluate_policy(ctx, prompts, split)
    history, first = state["reward_history"], state.get("eval0")
    k = max(1, min(5, len(history) // 4))  # a few batches each end: single-batch rewards are noisy
    if first:
        warning = hacking_warning(sum(history[:k]) / k, sum(history[-k:]) / k, state["first_spread"],
                                  first["eval_reward"], out["eval_reward"], split)
        if warning:
            out["warning"] = warning
            state.setdefault("warnings", []).append(warning)
            print(f"warning: {warning}", file=sys.stderr)
    state["eval_last"] = out["eval_reward"]
    return out


def _checkpoint(ctx: Context, writer: RunWriter, step: int, state: dict) -> None:
    """Every process hands in its RNG stream; the main process writes the checkpoint."""
    state["kl_ctl"] = ctx.kl_ctl.state_dict()
    rng = capture_rng_states(ctx.accelerator)  # collective
    if ctx.accelerator.is_main_process:
        save_checkpoint(writer.checkpoint_dir, step, {"policy": ctx.policy, "value": ctx.value.model},
                        ctx.optimizer, ctx.scheduler, rng_state=rng, extra=state)


def _finish(ctx: Context, writer: RunWriter, state: dict) -> dict:
    """Save the policy (plain module, not the DDP wrapper) and write result.json: main process only."""
    cfg = ctx.cfg
    info = {"kind": "policy", "base_model": str(ctx.model_path), "reward_model": cfg.reward_model,
            "reward_fn": cfg.reward_fn, "steps": cfg.max_steps}
    policy = ctx.accelerator.unwrap_model(ctx.policy_train)
    if has_adapters(policy):
        info["lora_merged"] = True
        restore_fp32(policy, ctx.policy_lowp, ctx.model_path)  # merge into the exact fp32 base weights
        policy = merge_adapters(policy)  # a plain model folder: generate, evaluate and ppo --model load it
    save_model_atomic(policy, ctx.tokenizer, writer.model_dir, info=info)
    history = state["reward_history"]
    k = max(1, min(5, len(history) // 4))  # average a few steps: single-batch rewards are noisy
    eval0 = state.get("eval0") or {}
    summary = {
        "eval_reward_first": eval0.get("eval_reward"), "eval_reward_last": state.get("eval_last"),
        "eval_split": eval0.get("eval_split"), "warnings": state.get("warnings", []),
        "lora_rank": cfg.lora_rank, "freeze_value_trunk": cfg.freeze_value_trunk,
        "precision": str(ctx.dtype).removeprefix("torch."),
        "reward_mean_first": sum(history[:k]) / k, "reward_mean_last": sum(history[-k:]) / k,
        "kl_last": writer.last_metrics.get("kl"), "kl_coef": ctx.kl_ctl.value,
        "episodes": cfg.max_steps * cfg.batch_size, "steps": cfg.max_steps, "base_model": str(ctx.model_path),
        "processes": ctx.accelerator.num_processes,
    }
    return writer.write_result(command="ppo", config=cfg.to_dict(), inputs=ctx.inputs(), summary=summary)


def _maybe_resume(ctx: Context, writer: RunWriter) -> tuple[int, dict]:
    """Restore models, optimizer, schedule, KL controller and RNG from the latest checkpoint if asked."""
    fresh = {"reward_history": [], "window": []}
    main = ctx.accelerator.is_main_process
    ckpt = load_latest_checkpoint(writer.checkpoint_dir) if ctx.cfg.resume else None
    if ckpt is None:
        if main:
            if ctx.cfg.resume:
                print(f"note: no checkpoint in {writer.checkpoint_dir}, starting from step 0", file=sys.stderr)
            writer.start_fresh()
        decorrelate_rng(ctx.accelerator, ctx.cfg.seed)  # processes sample different responses
        return 0, fresh
    ctx.policy.load_state_dict(ckpt["model"]["policy"])
    ctx.value.model.load_state_dict(ckpt["model"]["value"])
    ctx.optimizer.load_state_dict(ckpt["optimizer"])
    ctx.scheduler.load_state_dict(ckpt["scheduler"])
    state = {**fresh, **ckpt["extra"]}
    ctx.kl_ctl.load_state_dict(state.pop("kl_ctl"))
    restore_rng_states(ctx.accelerator, ckpt["rng_state"])
    if main:
        writer.truncate_after(ckpt["step"])
        print(f"resuming from {ckpt['path']} (step {ckpt['step']})", file=sys.stderr)
    return ckpt["step"], state


def _log(writer: RunWriter, step: int, cfg: PPOConfig, ctx: Context, window: list[dict], extras: dict) -> None:
    """One metrics.jsonl row: the mean of each statistic over the steps since the previous row (+ evaluation)."""
    keys = {k for s in window for k in s}
    mean = {k: sum(s[k] for s in window if k in s) / sum(1 for s in window if k in s) for k in keys}
    loss, tps = mean.pop("loss"), mean.pop("tokens_per_s")
    mean["kl_coef"] = ctx.kl_ctl.value
    writer.log(step, step / cfg.max_steps, loss, ctx.scheduler.get_last_lr()[0], tps, **mean, **extras)


def main(argv: list[str] | None = None) -> int:
    """CLI entry point (``python -m training ppo``); returns the exit status."""
    cfg = parse_config(PPOConfig, argv, prog="python -m training ppo")
    result = run(cfg)
    if not result:  # not the main process: the main one reports
        return 0
    s = result["summary"]
    print(stage_line(result), file=sys.stderr)
    print(f"policy saved to {result['model_dir']}; mean reward {s['reward_mean_first']:.4f} -> "
          f"{s['reward_mean_last']:.4f}, KL {s['kl_last']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
