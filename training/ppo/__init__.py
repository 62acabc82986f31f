"""PPO-ptx for language models (DESIGN.md §5), in small readable modules.

- ``rollout``: sample responses from the policy, score them, collect log-probs
  of the policy and the frozen reference, values and response masks.
- ``advantages``: KL-penalised per-token rewards, the adaptive KL controller,
  GAE and whitening.
- ``losses``: clipped policy and value losses and the diagnostics.
- ``rewards``: where the scalar reward comes from (a reward model folder or a
  builtin function for tests/debugging).
- ``loop``: ``python -m training ppo``, the training loop with checkpoints.

TRL >= 1.13 no longer ships PPO, so this is ours.
"""
