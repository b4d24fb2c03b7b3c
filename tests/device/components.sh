#!/usr/bin/env bash
# On a CUDA machine, from the repository root, after `npm run build`: the full-size SDXL VAE decoder and both text
# encoders with synthetic weights (each written once into models/<name>/ and reused while the machine lives), then
# each component's fastest recipe measured against its fp32 original on CUDA (parity, placement, speed), one table
# per component. Logs and tables go to $OUT (default /tmp/device-out): components-log.txt, vae/, te1/, te2/.
# PROVIDER=cpu ITERS=1 WARMUP=0 VAE_DIMS=... TE_DIMS=... make it a quick check off the GPU.
set -uo pipefail
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
log="$out/components-log.txt"
provider=${PROVIDER:-cuda}
iters=${ITERS:-10}
warmup=${WARMUP:-2}
vae_dims=${VAE_DIMS:-batch=1,height=128,width=128}
te_dims=${TE_DIMS:-batch=1,sequence=77}

synth() { # <name>: fixtures/<name>-full-graph-only.onnx → models/<name>/model.onnx (+ model.onnx_data)
  if [[ ! -f "models/$1/model.onnx_data" ]]; then
    echo "== synth $1" >>"$log"
    /usr/bin/time -f "synth $1: %e s wall, %M KB max RSS" \
      node dist/src/cli/main.js synth "fixtures/$1-full-graph-only.onnx" "models/$1" >>"$log" 2>&1
  fi
  ls -la "models/$1" >>"$log"
}

table() { # <name> <dims> <out folder>: recipes/<name>-fastest.yaml on models/<name>/model.onnx
  echo "== table recipes/$1-fastest.yaml --dims $2" >>"$log"
  /usr/bin/time -f "table $1: %e s wall, %M KB max RSS" \
    node dist/src/cli/main.js table "recipes/$1-fastest.yaml" --model "models/$1/model.onnx" --provider "$provider" \
    --dims "$2" --iters "$iters" --warmup "$warmup" --out "$out/$3" >>"$log" 2>&1
  echo "exit $?" >>"$log"
}

node dist/src/cli/main.js doctor >>"$log" 2>&1
for name in sdxl-vae-decoder sdxl-text-encoder sdxl-text-encoder-2; do synth "$name"; done
table sdxl-vae-decoder "$vae_dims" vae
table sdxl-text-encoder "$te_dims" te1
table sdxl-text-encoder-2 "$te_dims" te2
for d in vae te1 te2; do echo "== $d"; cat "$out/$d/table.md" 2>/dev/null || echo "(no table)"; done
grep -E '^(synth|table) .*wall|^exit' "$log"
