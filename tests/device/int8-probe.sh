#!/usr/bin/env bash
# On a CUDA machine, from the repository root, after `npm run build` (under a minute): which int8 / 8-bit GEMM forms
# ORT's CUDA provider loads (CPU fallback disabled) and runs on this GPU, one line per form and shape; then the
# CUDA test of dynamic-int8 (its run subtests are marked todo when cuBLAS refuses the int8 GEMM).
set -uo pipefail
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
nvidia-smi --query-gpu=name,driver_version,compute_cap --format=csv,noheader | tee "$out/int8-gpu.txt"
timeout 120 node dist/tests/bench/int8-probe.js cuda 2>&1 | tee "$out/int8-probe.txt"
node --test --test-name-pattern='runs its int8 nodes on CUDA' dist/tests/passes/dynamic-int8.test.js 2>&1 \
  | tee "$out/int8-cuda-test.txt" | grep -E '^# (tests|pass|fail|todo|skipped)|^ *(not )?ok|TODO|SKIP'
