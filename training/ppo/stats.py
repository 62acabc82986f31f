"""Masked statistics over response tokens (padding after EOS must not count)."""

from __future__ import annotations

import torch


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int | None = None) -> torch.Tensor:
    """Mean of ``x`` over positions where ``mask`` is 1 (all of them, or along ``dim``)."""
    mask = mask.to(x.dtype)
    if dim is None:
        return (x * mask).sum() / mask.sum().clamp(min=1)
    return (x * mask).sum(dim) / mask.sum(dim).clamp(min=1)


def masked_var(x: torch.Tensor, mask: torch.Tensor, unbiased: bool = True) -> torch.Tensor:
    """Variance of ``x`` over the masked positions (Bessel-corrected by default)."""
    mean = masked_mean(x, mask)
    var = masked_mean((x - mean) ** 2, mask)
    if unbiased:
        n = mask.sum()
        # With a single token there is no spread to estimate: report 0, not inf.
        var = var * n / (n - 1) if n > 1 else var * 0
    return var


def whiten(x: torch.Tensor, mask: torch.Tensor, shift_mean: bool = True) -> torch.Tensor:
    """Normalise ``x`` to unit variance (and zero mean unless ``shift_mean`` is False).

    Positions outside the mask are returned as 0 so they cannot leak into a
    later sum that forgets the mask.
    """
    mean, var = masked_mean(x, mask), masked_var(x, mask)
    out = (x - mean) * torch.rsqrt(var + 1e-8)
    if not shift_mean:
        out = out + mean
    return out * mask.to(out.dtype)


def explained_variance(pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor) -> float:
    """1 - Var(target - pred) / Var(target): 1 is a perfect value function, <= 0 is useless."""
    var_target = masked_var(target, mask)
    if var_target <= 0:
        return float("nan")
    return float(1 - masked_var(target - pred, mask) / var_target)
