#!/bin/sh
# Real models in, measured plan out (issue 15): build small checkpoints locally (four zoo vit_tiny
# variants sharing their bottom encoder blocks, a tiny LLaMA and two LoRA adapters on it), scan
# them, calibrate this machine, make an instance, solve it and execute the plan.
#   examples/real_models/demo.sh [OUT]        (default OUT: /tmp/edgeinfer-demo; about a minute)
# Environment: EDGEINFER (default: python -m edgeinfer.cli), PYTHON (default: python),
# DEVICE (cpu or cuda, default cpu), DEADLINE_S (default 0.3), USERS (default 30).
set -eu
OUT=${1:-/tmp/edgeinfer-demo}
PYTHON=${PYTHON:-python}
EDGEINFER=${EDGEINFER:-"$PYTHON -m edgeinfer.cli"}
DEVICE=${DEVICE:-cpu}
mkdir -p "$OUT"
$PYTHON -m edgeinfer.loading.demo_models "$OUT/models" >/dev/null
cd "$OUT"
$EDGEINFER library scan models/vit_base models/vit_ft2 models/vit_ft4 models/vit_ft5 models/llama_base \
    models/lora_a models/lora_b -o library.json
$EDGEINFER calibrate --device "$DEVICE" --library library.json -o server.json
$EDGEINFER make partial_loading --library library.json --server server.json --users "${USERS:-30}" \
    --bandwidth-hz 50e6 --deadline-s "${DEADLINE_S:-0.3}" --seed 1 -o instance.json
$EDGEINFER solve instance.json -a exact -o solution.json
$EDGEINFER execute instance.json solution.json --library library.json --device "$DEVICE" -o run.json
echo "figure: $OUT/run.png"
