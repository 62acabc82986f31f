#!/usr/bin/env bash
# The CUDA check, as run on a lent GPU machine (one H200) that has torch + transformers but no model hub,
# no SmolLM2 weights and none of our other packages: wheels travel in .whl/ and SmolLM2's tokenizer in
# .gpu/smol-tokenizer/ (both git-ignored). SmolLM2-135M's exact shape with random weights gives real
# throughput and memory figures (not learning). Writes its reports under $OUT (or /tmp/gpu-out).
#
#   1. bench/gpu_smoke.py       sft, reward, ppo, dpo on CUDA in bf16, each with and without LoRA
#   2. bench/ppo_smollm2.py     PPO episodes/s and peak memory: the old settings against the efficient ones
#   3. bench/iteration_wall_time.py   one whole iteration (export → sft → reward → ppo → generate → evaluate)
set -uo pipefail
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
cd "$(dirname "${BASH_SOURCE[0]}")/.."
if [ -d .whl ]; then
  python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
    && export PYTHONPATH=/tmp/site
fi
export HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 TOKENIZERS_PARALLELISM=false PREFLOOP_MODEL_CACHE=/tmp/models
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv | tee "$OUT/gpu.txt"
python3 -c "import torch, transformers, trl, datasets, peft, django; print('torch', torch.__version__, 'transformers', transformers.__version__, 'trl', trl.__version__, 'datasets', datasets.__version__, 'peft', peft.__version__, 'django', django.__version__, 'cuda', torch.cuda.is_available())" 2>&1 | tee -a "$OUT/gpu.txt"
TOK=""
[ -d .gpu/smol-tokenizer ] && TOK="--tokenizer .gpu/smol-tokenizer"
timeout 300 python3 bench/gpu_smoke.py --random-init smollm2 $TOK --workdir /tmp/smoke 2>&1 | tee "$OUT/gpu_smoke.txt" | tail -40
MODEL=/tmp/smoke/random-smollm2
timeout 150 python3 bench/ppo_smollm2.py --model "$MODEL" --steps 3 --threads 8 --workdir /tmp/ppo-bench 2>&1 \
  | tee "$OUT/ppo_bench.txt" | tail -20
timeout 240 python3 bench/iteration_wall_time.py --model "$MODEL" --device cuda --threads 8 2>&1 \
  | tee "$OUT/iteration.txt" | tail -15
