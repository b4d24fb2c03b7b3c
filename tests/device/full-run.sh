#!/usr/bin/env bash
# On a CUDA machine, from the repository root, after `npm run build`: the full-size UNet with synthetic weights,
# `apply` of the cleanup-only recipe and of the fastest recipe (each validated and benchmarked on CUDA against the
# fp32 original), then ONNX Runtime's profile of the fastest form. Logs and reports go to $OUT (default /tmp/device-out).
set -uo pipefail
out=${OUT:-/tmp/device-out}
mkdir -p "$out"
log="$out/log.txt"
bash tests/device/setup-model.sh >>"$log" 2>&1
node dist/src/cli/main.js doctor >>"$log" 2>&1
for r in ${RECIPES:-baseline fastest}; do
  echo "== apply recipes/sdxl-unet-$r.yaml" >>"$log"
  /usr/bin/time -f "apply $r: %e s wall, %M KB max RSS" node dist/src/cli/main.js apply "recipes/sdxl-unet-$r.yaml" >>"$log" 2>&1
  echo "exit $?" >>"$log"
  mkdir -p "$out/$r" && cp "out/sdxl-unet-$r/report.json" "out/sdxl-unet-$r/report.md" "$out/$r/" 2>>"$log"
done
if [[ -n "${PROFILE:-out/sdxl-unet-fastest/model.onnx}" ]]; then
  node dist/src/cli/main.js bench "${PROFILE:-out/sdxl-unet-fastest/model.onnx}" --provider cuda --profile --iters 10 --warmup 3 \
    >"$out/profile.txt" 2>&1
fi
tail -5 "$log"; tail -40 "$out/profile.txt" 2>/dev/null
