"""Rollouts: sample responses from the policy and record what PPO needs about them.

Layout of one rollout batch (B prompts, P prompt positions, R response positions)::

    input_ids = [ pad pad <prompt tokens> | r_0 r_1 ... r_eos pad pad ]
                 <------ left-padded P ---><------ right-padded R ------>

Prompts are left-padded so every prompt ends at position P-1 and every
response starts at P (what batched ``generate`` needs). The response mask is
1 up to and including the first EOS. Position ids are counted over attended
tokens only, so padding never shifts a token's position.

Indexing convention: ``logprobs[:, t]`` is log pi(r_t | prompt, r_<t), read
from the logits at position P-1+t; ``values[:, t]`` is the value of that same
state (hidden state at P-1+t), i.e. before r_t is emitted.
"""

from __future__ import annotations

import contextlib
import time
from dataclasses import dataclass, fields

import torch

from training.optim import autocast
from training.ppo.losses import entropy_from_logits, logprobs_from_logits
from training.reward_model import pad_sequences, position_ids_from_mask


@dataclass
class Rollout:
    """One batch of sampled episodes (tensors on the training device)."""

    query_ids: torch.Tensor
    query_mask: torch.Tensor
    response_ids: torch.Tensor
    response_mask: torch.Tensor
    logprobs: torch.Tensor
    ref_logprobs: torch.Tensor
    values: torch.Tensor
    scores: torch.Tensor
    # Frozen value trunk only: its features at the value positions (B, R, H), so updates skip the trunk.
    value_hidden: torch.Tensor | None = None
    # LoRA on the top blocks only: the input of the first adapted block (B, P+R, H), see training.ppo.prefix.
    prefix_hidden: torch.Tensor | None = None

    @property
    def input_ids(self) -> torch.Tensor:
        """Prompt + response token ids (B, P+R)."""
        return torch.cat([self.query_ids, self.response_ids], dim=1)

    @property
    def attention_mask(self) -> torch.Tensor:
        """Prompt + response attention mask (B, P+R); padding after EOS is 0."""
        return torch.cat([self.query_mask, self.response_mask], dim=1)

    def select(self, idx: torch.Tensor) -> "Rollout":
        """The episodes at ``idx`` (a minibatch)."""
        return Rollout(**{f.name: None if getattr(self, f.name) is None else getattr(self, f.name)[idx]
                          for f in fields(self)})


def encode_prompts(tokenizer, prompts: list[list[dict]], max_prompt_length: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Chat-template the prompts (with the assistant generation prompt), left-padded.

    Over-long prompts keep their last ``max_prompt_length`` tokens: the final
    user turn and the generation prompt are what the answer depends on most.
    """
    seqs = []
    for messages in prompts:
        text = tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
        seqs.append(tokenizer(text, add_special_tokens=False)["input_ids"][-max_prompt_length:])
    return pad_sequences(seqs, tokenizer.pad_token_id, side="left")


def eos_ids(model, tokenizer) -> list[int]:
    """Token ids that end a response (generation config's eos list plus the tokenizer's eos)."""
    ids = getattr(model.generation_config, "eos_token_id", None)
    ids = [ids] if isinstance(ids, int) else list(ids or [])
    if tokenizer.eos_token_id is not None and tokenizer.eos_token_id not in ids:
        ids.append(tokenizer.eos_token_id)
    return ids


def response_mask_from_ids(response_ids: torch.Tensor, stop_ids: list[int]) -> torch.Tensor:
    """1 for response tokens up to and including the first stop token, 0 after it."""
    is_stop = torch.isin(response_ids, torch.tensor(stop_ids, device=response_ids.device)).long()
    stops_before = is_stop.cumsum(1) - is_stop  # stop tokens strictly before each position
    return (stops_before == 0).long()


@torch.no_grad()
def sample_responses(policy, tokenizer, query_ids, query_mask, *, max_new_tokens: int, temperature: float,
                     dtype) -> tuple[torch.Tensor, torch.Tensor]:
    """Sample one response per prompt from the full distribution (no top-k/top-p).

    Pure sampling keeps the behaviour policy equal to the policy whose
    log-probs PPO's ratio uses; truncated sampling would make it off-policy.
    """
    from transformers import GenerationConfig

    stop = eos_ids(policy, tokenizer)
    config = GenerationConfig(
        do_sample=True, temperature=temperature, top_k=0, top_p=1.0, max_new_tokens=max_new_tokens,
        eos_token_id=stop, pad_token_id=tokenizer.pad_token_id, use_cache=True,  # whatever the model's config says
    )
    with autocast(query_ids.device, dtype):
        out = policy.generate(input_ids=query_ids, attention_mask=query_mask, generation_config=config)
    response = out[:, query_ids.shape[1]:]
    mask = response_mask_from_ids(response, stop)
    # Whatever generate wrote after EOS becomes the pad id, so masked tokens are inert.
    response = torch.where(mask.bool(), response, torch.full_like(response, tokenizer.pad_token_id))
    return response, mask


def response_logprobs(model, query_ids, query_mask, response_ids, response_mask, *, temperature: float,
                      dtype, with_entropy: bool = False):
    """log pi(r_t | ...) for each response token (B, R), plus per-token entropy if asked.

    ``logits_to_keep`` makes the LM head run on the last R+1 positions only,
    which matters with a 50k vocabulary and long prompts. Logits are divided
    by the sampling temperature so the log-probs describe the distribution
    the tokens were actually drawn from.
    """
    input_ids = torch.cat([query_ids, response_ids], dim=1)
    mask = torch.cat([query_mask, response_mask], dim=1)
    n_resp = response_ids.shape[1]
    with autocast(input_ids.device, dtype):
        out = model(input_ids=input_ids, attention_mask=mask, position_ids=position_ids_from_mask(mask),
                    use_cache=False, logits_to_keep=n_resp + 1)
    logits = out.logits[:, :-1].float() / temperature
    logp = logprobs_from_logits(logits, response_ids)
    return (logp, entropy_from_logits(logits)) if with_entropy else logp


def response_values(value_model, query_ids, query_mask, response_ids, response_mask, *, dtype,
                    hidden: torch.Tensor | None = None) -> torch.Tensor:
    """V(s_t) for each response position (B, R), from the value model's per-token head.

    ``hidden``: the frozen trunk's features at those positions (:func:`value_features`); only the head runs.
    """
    if hidden is not None:
        return value_model(None, None, hidden=hidden).float()  # via forward: DDP syncs gradients only there
    input_ids = torch.cat([query_ids, response_ids], dim=1)
    mask = torch.cat([query_mask, response_mask], dim=1)
    start = query_ids.shape[1] - 1
    with autocast(input_ids.device, dtype):
        values = value_model(input_ids, mask, per_token=True)  # via forward: DDP syncs gradients only there
    return values[:, start : start + response_ids.shape[1]].float()


@torch.no_grad()
def value_features(value_model, query_ids, query_mask, response_ids, response_mask, *, dtype) -> torch.Tensor:
    """The value trunk's last hidden states at the value positions (B, R, H), float32."""
    input_ids = torch.cat([query_ids, response_ids], dim=1)
    mask = torch.cat([query_mask, response_mask], dim=1)
    start = query_ids.shape[1] - 1
    with autocast(input_ids.device, dtype):
        hidden = value_model.hidden_states(input_ids, mask)
    return hidden[:, start : start + response_ids.shape[1]].float()


@torch.no_grad()
def collect_rollout(policy, ref_policy, value_model, tokenizer, reward_fn, prompts, *, max_prompt_length: int,
                    max_new_tokens: int, temperature: float, device, dtype, chunk_size: int = 16,
                    frozen_value_trunk: bool = False, timings: dict | None = None, prefix=None):
    """Sample, decode, score, and record old/ref log-probs and values → (Rollout, response texts).

    Models must be in eval mode (no dropout), so the log-probs recorded here
    are exactly those PPO's first epoch recomputes (ratio = 1 before any update).
    ``timings`` (a dict) receives ``time_generate_s`` and ``time_score_s``.
    ``prefix`` (a :class:`training.ppo.prefix.FrozenPrefix`) records the frozen
    lower blocks' output while sampling and replays it for the old and the
    reference log-probs (and later for every PPO update), so those forwards run
    only the adapted top blocks.
    """
    t0 = time.perf_counter()
    query_ids, query_mask = (t.to(device) for t in encode_prompts(tokenizer, prompts, max_prompt_length))
    sampled: list = []
    with prefix.capture(sampled) if prefix is not None else contextlib.nullcontext():
        response_ids, response_mask = sample_responses(
            policy, tokenizer, query_ids, query_mask, max_new_tokens=max_new_tokens, temperature=temperature,
            dtype=dtype,
        )
    frozen = _sampled_prefix(sampled, response_ids.shape[0], query_ids.shape[1] + response_ids.shape[1])
    texts = [
        tokenizer.decode(ids[m.bool()], skip_special_tokens=True) for ids, m in zip(response_ids, response_mask)
    ]
    t1 = time.perf_counter()
    scores = torch.tensor(reward_fn(prompts, texts), dtype=torch.float32, device=device)
    parts = {"logprobs": [], "ref_logprobs": [], "values": [], "value_hidden": [], "prefix_hidden": []}
    for i in range(0, len(prompts), chunk_size):
        sl = slice(i, i + chunk_size)
        args = (query_ids[sl], query_mask[sl], response_ids[sl], response_mask[sl])
        captured: list = [frozen[sl]] if frozen is not None else []
        with prefix.capture(captured) if prefix is not None and not captured else contextlib.nullcontext():
            with prefix.replay(captured[0]) if captured else contextlib.nullcontext():
                parts["logprobs"].append(response_logprobs(policy, *args, temperature=temperature, dtype=dtype))
        with prefix.replay(captured[0]) if prefix is not None else contextlib.nullcontext():
            parts["ref_logprobs"].append(response_logprobs(ref_policy, *args, temperature=temperature, dtype=dtype))
        parts["prefix_hidden"].append(captured[0] if captured else None)
        hidden = value_features(value_model, *args, dtype=dtype) if frozen_value_trunk else None
        parts["values"].append(response_values(value_model, *args, dtype=dtype, hidden=hidden))
        parts["value_hidden"].append(hidden)
    optional = {k: parts.pop(k) for k in ("value_hidden", "prefix_hidden")}
    optional = {k: torch.cat(v) if v and v[0] is not None else None for k, v in optional.items()}
    rollout = Rollout(query_ids, query_mask, response_ids, response_mask, scores=scores, **optional,
                      **{k: torch.cat(v) for k, v in parts.items()})
    if timings is not None:
        timings.update(time_generate_s=t1 - t0, time_score_s=time.perf_counter() - t1)
    return rollout, texts


def _sampled_prefix(sampled: list, batch: int, length: int) -> torch.Tensor | None:
    """The frozen lower blocks' output recorded while sampling, as one (B, P+R, H) tensor, or None.

    Sampling already ran the lower blocks over every prompt and response token
    (the prefill, then one token per forward), so the old log-probs need only
    the adapted top blocks. The last sampled token is never fed back: its row
    is zeros, which by causality changes nothing at earlier positions, and the
    log-probs never read the logits there. Any other shape (a generate that
    ran extra forwards) returns None and the old log-probs take a full forward.
    """
    if not sampled or any(h.shape[0] != batch for h in sampled):
        return None
    hidden = torch.cat(sampled, dim=1)
    if hidden.shape[1] != length - 1:
        return None
    return torch.cat([hidden, hidden.new_zeros(batch, 1, hidden.shape[2])], dim=1)


def gather_rollout(accelerator, roll: Rollout, pad_id: int) -> Rollout:
    """Every process's rollout concatenated in process order, so each process holds the whole batch.

    Processes sample different prompt and response lengths, so the time
    dimensions are padded to the longest first: prompts on the left (they must
    keep ending at the same position), responses on the right. Padding has
    mask 0, so it changes no log-prob, value or statistic.
    """
    if accelerator.num_processes == 1:
        return roll

    def pad(name: str, value, first: bool = False) -> torch.Tensor:
        return accelerator.pad_across_processes(getattr(roll, name), dim=1, pad_index=value, pad_first=first)

    parts = {
        "query_ids": pad("query_ids", pad_id, first=True), "query_mask": pad("query_mask", 0, first=True),
        "response_ids": pad("response_ids", pad_id), "response_mask": pad("response_mask", 0),
        "logprobs": pad("logprobs", 0.0), "ref_logprobs": pad("ref_logprobs", 0.0), "values": pad("values", 0.0),
        "scores": roll.scores,
    }
    if roll.value_hidden is not None:
        parts["value_hidden"] = pad("value_hidden", 0.0)
    return Rollout(**accelerator.gather(parts))

