#!/usr/bin/env bash
# On a CUDA machine, from the repository root, after `npm run build`: the seed's progression recipes (RECIPES, default
# the bfloat16 ones) built on the full-size UNet and measured against the fp32 original in one process.
# Output: $OUT/progression/table.md and table.json, $OUT/progression-log.txt.
set -uo pipefail
out=${OUT:-/tmp/device-out}
mkdir -p "$out/progression"
bash tests/device/setup-model.sh >/dev/null
recipes=${RECIPES:-"bf16 bf16-attention bf16-qkv bf16-channels-last bf16-int8"}
files=()
for r in $recipes; do files+=("recipes/sdxl-unet-$r.yaml"); done
node dist/src/cli/main.js table "${files[@]}" --provider cuda --iters 20 --warmup 3 --out "$out/progression" 2>&1 |
  grep -v '^\s*$' >"$out/progression-log.txt"
grep -E '^\||Original' "$out/progression-log.txt" | tail -8
