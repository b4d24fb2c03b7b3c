#!/usr/bin/env bash
# CUDA smoke run (small fixtures, minutes): the CUDA tests of the suite, then every recipe's stack built on the small
# TorchScript UNet and measured against it on CUDA (parity, placement), in one table.
set -uo pipefail
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
node dist/src/cli/main.js doctor | tee "$out/doctor.txt"
node --test --test-concurrency=1 dist/tests/runtime-cuda.test.js dist/tests/passes/cast.test.js dist/tests/passes/fusions-pipeline.test.js \
  dist/tests/passes/dynamic-int8.test.js 2>&1 | tee "$out/cuda-tests.txt" | grep -E '^# (tests|pass|fail|skipped)|^not ok|SKIP'
node dist/src/cli/main.js table recipes/sdxl-unet-*.yaml --model fixtures/sdxl-unet-small-ts17.onnx --provider cuda \
  --iters 10 --warmup 2 --out "$out/small" 2>&1 | tail -25
