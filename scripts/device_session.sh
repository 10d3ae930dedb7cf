#!/usr/bin/env bash
# A GPU machine's work as one command, each step bounded so that the whole fits a short run:
#
#   bash scripts/device_session.sh [TRAIN_MINUTES]        # default 5
#
# 1. the tests that have CUDA paths (morphology, SimTip, BTR, consistency, model, training) on the GPU;
# 2. the default reconstruction's time per 128² scan on the GPU (median and maximum);
# 3. configs/train_gpu.json for TRAIN_MINUTES (`se3afm lab train --max-minutes`), resumed from runs/gpu
#    when a checkpoint is carried there; 4. its export with σ fitted on 64 validation scans and a
#    benchmark on 100 test scans. Everything worth keeping lands in $OUT (at most 8 files):
#    device.log, log.jsonl, se3afm-gpu.safetensors/.json, bench tables.md.
# Uses the machine's own python3 (torch, e3nn, safetensors are there); the package runs from src/.
# Dry run on a CPU (small numbers): PYTHON=.venv/bin/python DEVICE=cpu CONFIG=configs/train_cpu.json \
#   CAL=4 BENCH_N=4 OUT=/tmp/out bash scripts/device_session.sh 0.1
set -uo pipefail
minutes=${1:-5}
py=${PYTHON:-python3}
device=${DEVICE:-cuda}
config=${CONFIG:-configs/train_gpu.json}
out=${OUT:?OUT must name the folder whose files come back}
export PYTHONPATH="$PWD/src" PYTHONUNBUFFERED=1
exec > >(tee "$out/device.log") 2>&1
date; nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || echo "no nvidia-smi"
"$py" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available())"
mkdir -p bench/results runs
[ -f bench/results/simtip_test.npz ] || "$py" -m napari_se3afm.cli lab simulate --split test -n 100 -o bench/results/simtip_test.npz -q
echo "== 1. tests"
timeout 240 "$py" -m pytest -q -x -p no:cacheprovider tests/test_morphology.py tests/simtip tests/test_btr.py \
  tests/test_consistency.py tests/nn 2>&1 | tail -n 5
echo "== 2. default reconstruction per 128² scan"
"$py" bench/bench_default_speed.py --device "$device" -n "${SPEED_N:-50}"
echo "== 3. training $config for $minutes min"
"$py" -m napari_se3afm.cli lab train --config "$config" -o runs/gpu --max-minutes "$minutes" -q
cp runs/gpu/log.jsonl "$out/"
echo "== 4. export and benchmark"
"$py" -m napari_se3afm.cli lab export-model runs/gpu -o "$out" --name se3afm-gpu --calibrate "${CAL:-64}" --overwrite
"$py" -m napari_se3afm.cli lab bench --model "$out/se3afm-gpu.safetensors" \
  --split bench/results/simtip_test.npz --limit "${BENCH_N:-100}" --methods model,btr -o runs/gpu-bench -q --overwrite
cp runs/gpu-bench/tables.md "$out/"
date
