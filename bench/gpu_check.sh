#!/usr/bin/env bash
# The GPU check of ULMFiT (see bench/gpu_check.py): at most 9 minutes on one CUDA GPU, one JSON file.
# Usage: bash bench/gpu_check.sh [out.json]     (default bench/results/gpu_check.json)
set -euo pipefail
cd "$(dirname "$0")/.."
python -c 'import lesson8_nlp' 2>/dev/null || pip install -q -e .
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
timeout 540 python bench/gpu_check.py --json "${1:-bench/results/gpu_check.json}"
