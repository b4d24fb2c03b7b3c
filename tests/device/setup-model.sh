#!/usr/bin/env bash
# On a CUDA machine, from the repository root: the full-size SDXL UNet with synthetic weights in models/sdxl-unet
# (the recipes' model), written once and reused while the machine lives.
set -euo pipefail
if [[ ! -f models/sdxl-unet/model.onnx_data ]]; then
  /usr/bin/time -f 'synth: %e s wall, %M KB max RSS' node dist/src/cli/main.js synth fixtures/sdxl-unet-full-graph-only.onnx models/sdxl-unet
fi
ls -la models/sdxl-unet
