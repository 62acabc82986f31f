"""Frozen weights stored in bf16 (training.lowp): the same outputs, faster, and exact fp32 weights saved."""

import types

import torch

from training.lora import add_adapters, merge_adapters
from training.lowp import restore_fp32, store_frozen_in
from training.modeling import load_causal_lm, load_inference_lm


def _lora_policy(path):
    cfg = types.SimpleNamespace(lora_rank=4, lora_alpha=8.0, lora_dropout=0.0, lora_target_modules="all-linear",
                                lora_layers=2)
    torch.manual_seed(0)  # lora_A is drawn at random: the same for every policy built here
    policy = add_adapters(load_causal_lm(path, torch.device("cpu"), torch.float32).eval(), cfg)
    for name, p in policy.named_parameters():
        if "lora_B" in name:  # trained adapters: B is no longer zero
            p.data.normal_(0, 0.05)
    return policy


def _logits(model, ids):
    with torch.no_grad(), torch.autocast("cpu", dtype=torch.bfloat16):
        return model(input_ids=ids).logits


def test_bf16_frozen_weights_give_bit_identical_logits_and_merge_into_the_exact_fp32_base(tiny_model_dir):
    ids = torch.randint(3, 200, (2, 12), generator=torch.Generator().manual_seed(1))
    reference, policy = _lora_policy(tiny_model_dir), _lora_policy(tiny_model_dir)
    expected = _logits(reference, ids)

    stored = store_frozen_in(policy, torch.bfloat16)
    hf = policy.get_base_model()
    assert stored.untied_head and hf.lm_head.weight.dtype == torch.bfloat16
    assert hf.get_input_embeddings().weight.dtype == torch.float32  # the residual stream keeps fp32
    assert all(p.dtype == torch.float32 for n, p in policy.named_parameters() if p.requires_grad)
    assert torch.equal(_logits(policy, ids), expected)

    restore_fp32(policy, stored, tiny_model_dir)
    assert hf.lm_head.weight is hf.get_input_embeddings().weight  # tied again, as saved
    merged, merged_reference = merge_adapters(policy), merge_adapters(reference)
    for (name, p), (_, q) in zip(merged.state_dict().items(), merged_reference.state_dict().items()):
        assert p.dtype == torch.float32 and torch.equal(p, q), name


def test_fp32_compute_and_trained_weights_are_left_alone(tiny_model_dir):
    model = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32)
    assert not store_frozen_in(model, torch.float32)
    assert not store_frozen_in(model, torch.bfloat16)  # a full fine-tune: every weight trains
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_a_sampling_model_holds_its_linear_weights_in_the_compute_dtype(tiny_model_dir):
    model = load_inference_lm(tiny_model_dir, torch.device("cpu"), torch.bfloat16)
    plain = load_causal_lm(tiny_model_dir, torch.device("cpu"), torch.float32).eval()
    ids = torch.randint(3, 200, (2, 9), generator=torch.Generator().manual_seed(2))
    assert model.model.layers[0].mlp.up_proj.weight.dtype == torch.bfloat16
    assert torch.equal(_logits(model, ids), _logits(plain, ids))


def test_lora_sft_trains_on_bf16_frozen_weights_and_saves_the_exact_fp32_ones(tiny_model_dir, tmp_path):
    """The Trainer-based commands (sft, dpo) get the same treatment: frozen weights in bf16 while training,
    the untouched weights saved bit-for-bit as they were loaded."""
    from safetensors.torch import load_file
    from transformers import TrainerCallback

    from helpers import make_sft
    from training.config import parse_config
    from training.sft import SFTRunConfig, run

    seen = {}

    class FrozenDtype(TrainerCallback):
        def on_step_end(self, args, state, control, model=None, **kwargs):
            for name, p in model.named_parameters():
                if name.endswith("layers.0.self_attn.q_proj.weight"):  # below the adapted blocks: frozen
                    seen["frozen"] = p.dtype

    out = tmp_path / "run"
    cfg = parse_config(SFTRunConfig, ["--model", str(tiny_model_dir), "--data", str(make_sft(tmp_path / "d", n=8)),
                                      "--output_dir", str(out), "--max_steps", "2", "--batch_size", "4",
                                      "--lora_rank", "4", "--lora_layers", "1", "--precision", "bf16",
                                      "--learning_rate", "1e-2", "--save_steps", "0"])
    run(cfg, callbacks=[FrozenDtype()])
    assert seen["frozen"] == torch.bfloat16
    before, after = load_file(tiny_model_dir / "model.safetensors"), load_file(out / "model" / "model.safetensors")
    top = max(int(k.split(".")[2]) for k in before if ".layers." in k)
    untouched = [k for k in before if f".layers.{top}." not in k]
    assert untouched and all(after[k].dtype == torch.float32 and torch.equal(before[k], after[k]) for k in untouched)
    assert any(not torch.equal(before[k], after[k]) for k in before if f".layers.{top}." in k)  # the adapted block
