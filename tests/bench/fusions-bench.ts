/**
 * Times each fusion pass on a model's graph (weights are never read, so the graph-only full UNet works), in the
 * order a CUDA recipe runs them, after cleanup or not:
 *   node dist/tests/bench/fusions-bench.js fixtures/sdxl-unet-full-graph-only.onnx '{"batch":2,"height":128,"width":128,"sequence":77}' 5 cleanup
 * Each repeat reads the model afresh; prints every pass's median time (reading and cleanup excluded) and counts.
 */
import { defaultParams, type PassContext, type PassDefinition } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { cleanup } from '../../passes/cleanup.js';
import { fuseBiasAdd } from '../../passes/fuse-bias-add.js';
import { fuseBiasSplitGelu } from '../../passes/fuse-bias-split-gelu.js';
import { fuseGelu } from '../../passes/fuse-gelu.js';
import { fuseSkipLayerNorm } from '../../passes/fuse-skip-layernorm.js';
import { removeNeutralOps } from '../../passes/remove-neutral-ops.js';
import { simplifyConcatSlices } from '../../passes/simplify-concat-slices.js';
import { passContext } from '../helpers/pass-context.js';

const CHAIN: PassDefinition<any>[] = [removeNeutralOps, simplifyConcatSlices, fuseSkipLayerNorm, fuseBiasAdd, fuseBiasSplitGelu, fuseGelu];

const [file, dimsJson, repeatText, withCleanup] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: fusions-bench.js <model.onnx> [dims as JSON] [repeats] [cleanup]\n');
  process.exitCode = 2;
} else {
  const dims = dimsJson ? (JSON.parse(dimsJson) as Record<string, number>) : {};
  const times = new Map<string, number[]>();
  const counts = new Map<string, Record<string, number>>();
  for (let i = 0; i < Number(repeatText ?? 1); i++) {
    const model = await readModel(file);
    const ctx: PassContext = { ...passContext(model, dims), target: 'cuda' };
    if (withCleanup === 'cleanup') await cleanup.run(ctx, defaultParams(cleanup));
    for (const pass of CHAIN) {
      const started = performance.now();
      const result = await pass.run(ctx, defaultParams(pass));
      const ms = performance.now() - started;
      times.set(pass.name, [...(times.get(pass.name) ?? []), ms]);
      counts.set(pass.name, result.counts);
    }
  }
  console.log(`${file} dims=${JSON.stringify(dims)} ${withCleanup === 'cleanup' ? 'after cleanup' : 'without cleanup'}, target cuda, ${repeatText ?? 1} repeats`);
  for (const [name, ms] of times) {
    const sorted = [...ms].sort((a, b) => a - b);
    console.log(`${name.padEnd(24)} median ${sorted[sorted.length >> 1]!.toFixed(0).padStart(5)} ms  (min ${sorted[0]!.toFixed(0)}, max ${sorted[sorted.length - 1]!.toFixed(0)})  ${JSON.stringify(counts.get(name))}`);
  }
}
