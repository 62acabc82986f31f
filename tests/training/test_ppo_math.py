"""PPO pieces against hand-computed numbers."""

import math

import pytest
import torch

from training.ppo.advantages import KLController, compute_gae, kl_penalized_rewards
from training.ppo.losses import entropy_from_logits, logprobs_from_logits, policy_loss, value_loss
from training.ppo.stats import explained_variance, masked_mean, whiten

T = torch.tensor


def test_kl_penalized_rewards_put_score_on_last_response_token():
    rewards, kl = kl_penalized_rewards(
        scores=T([2.0, -1.0]),
        logprobs=T([[-1.0, -2.0, -3.0], [-1.0, -1.0, -1.0]]),
        ref_logprobs=T([[-1.5, -1.0, -3.0], [-1.0, -1.0, -1.0]]),
        mask=T([[1, 1, 0], [1, 1, 1]]),
        beta=0.1,
    )
    torch.testing.assert_close(kl, T([[0.5, -1.0, 0.0], [0.0, 0.0, 0.0]]))
    torch.testing.assert_close(rewards, T([[-0.05, 2.1, 0.0], [0.0, 0.0, -1.0]]))


def test_gae_hand_computed():
    adv, ret = compute_gae(T([[0.0, 0.0, 1.0]]), T([[0.5, 0.6, 0.7]]), T([[1, 1, 1]]), gamma=1.0, lam=0.5)
    # A2 = 1 - 0.7 = 0.3; A1 = (0.7 - 0.6) + 0.5*0.3 = 0.25; A0 = (0.6 - 0.5) + 0.5*0.25
    torch.testing.assert_close(adv, T([[0.225, 0.25, 0.3]]))
    torch.testing.assert_close(ret, T([[0.725, 0.85, 1.0]]))


def test_gae_ignores_padding_and_bootstraps_zero_after_the_end():
    adv, ret = compute_gae(
        T([[0.0, 1.0, 5.0]]), T([[0.5, 0.6, 9.0]]), T([[1, 1, 0]]), gamma=0.9, lam=1.0
    )
    # lam=1: returns are discounted Monte-Carlo returns, padding ignored.
    torch.testing.assert_close(ret, T([[0.9, 1.0, 0.0]]))
    torch.testing.assert_close(adv, T([[0.4, 0.4, 0.0]]))


def test_whiten_uses_only_masked_positions():
    out = whiten(T([1.0, 2.0, 3.0, 100.0]), T([1, 1, 1, 0]))
    torch.testing.assert_close(out, T([-1.0, 0.0, 1.0, 0.0]), atol=1e-6, rtol=0)
    assert masked_mean(T([1.0, 3.0, 100.0]), T([1, 1, 0])).item() == 2.0


def test_adaptive_kl_controller():
    ctl = KLController(value=0.02, target=6.0, horizon=1000)
    ctl.update(current_kl=12.0, n_episodes=100)  # error clipped to +0.2
    assert ctl.value == pytest.approx(0.02 * 1.02)
    ctl.update(current_kl=5.4, n_episodes=100)  # error -0.1
    assert ctl.value == pytest.approx(0.02 * 1.02 * 0.99)
    fixed = KLController(value=0.02)
    fixed.update(current_kl=100.0, n_episodes=100)
    assert fixed.value == 0.02
    restored = KLController()
    restored.load_state_dict(ctl.state_dict())
    assert restored == ctl


def test_policy_loss_hand_computed():
    logp = torch.log(T([1.5, 0.5, 1.1])).requires_grad_(True)
    out = policy_loss(logp, T([0.0, 0.0, 0.0]), T([1.0, -1.0, 2.0]), T([1, 1, 1]), clip_range=0.2)
    # token0 clipped at 1.2 -> -1.2; token1 clipped at 0.8 -> 0.8; token2 unclipped -> -2.2
    assert out.loss.item() == pytest.approx((-1.2 + 0.8 - 2.2) / 3)
    assert out.clip_fraction == pytest.approx(2 / 3)
    k3 = [(r - 1) - math.log(r) for r in (1.5, 0.5, 1.1)]
    assert out.approx_kl == pytest.approx(sum(k3) / 3, rel=1e-5)
    out.loss.backward()
    # Clipped tokens get no gradient; d/dlogp of -A*exp(logp) is -A*ratio.
    torch.testing.assert_close(logp.grad, T([0.0, 0.0, -2.0 * 1.1 / 3]))


def test_policy_loss_respects_mask():
    out = policy_loss(T([0.1, 5.0]), T([0.0, 0.0]), T([1.0, 100.0]), T([1, 0]), clip_range=0.2)
    assert out.loss.item() == pytest.approx(-math.exp(0.1))
    assert out.clip_fraction == 0.0


def test_value_loss_hand_computed():
    out = value_loss(
        values=T([1.0, 2.0, 1.9]),
        old_values=T([0.9, 1.0, 1.0]),
        returns=T([1.5, 0.0, 2.0]),
        mask=T([1, 1, 1]),
        clip_range=0.2,
    )
    # errors: 0.25 (inside clip); max(4, 1.44) = 4; max(0.01, 0.64) = 0.64 (clip binds)
    assert out.loss.item() == pytest.approx(0.5 * (0.25 + 4.0 + 0.64) / 3)
    assert out.clip_fraction == pytest.approx(1 / 3)


def test_entropy_logprobs_and_explained_variance():
    logits = torch.zeros(2, 4)
    torch.testing.assert_close(entropy_from_logits(logits), T([math.log(4)] * 2))
    logits = torch.log(T([[0.1, 0.2, 0.7]]))
    torch.testing.assert_close(logprobs_from_logits(logits, T([2])), torch.log(T([0.7])))
    target, mask = T([1.0, 2.0, 3.0, 4.0]), T([1, 1, 1, 1])
    assert explained_variance(target, target, mask) == pytest.approx(1.0)
    assert explained_variance(torch.full((4,), 2.5), target, mask) == pytest.approx(0.0)
