/**
 * Times `cleanup` on a model's graph (weights are never read, so the graph-only full UNet works):
 *   node dist/tests/bench/cleanup-bench.js fixtures/sdxl-unet-full-graph-only.onnx '{"batch":2,"height":128,"width":128,"sequence":77}'
 * Prints node counts before and after, the pass's time (reading excluded) and its counts.
 */
import { defaultParams } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { cleanup } from '../../passes/cleanup.js';
import { passContext } from '../helpers/pass-context.js';

const [file, dimsJson, repeatText] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: cleanup-bench.js <model.onnx> [dims as JSON] [repeats]\n');
  process.exitCode = 2;
} else {
  const dims = dimsJson ? (JSON.parse(dimsJson) as Record<string, number>) : {};
  for (let i = 0; i < Number(repeatText ?? 1); i++) {
    const model = await readModel(file);
    const before = model.graph.nodeCount;
    const started = performance.now();
    const result = await cleanup.run(passContext(model, dims), defaultParams(cleanup));
    const ms = performance.now() - started;
    console.log(`${file} dims=${JSON.stringify(dims)}: ${before} → ${model.graph.nodeCount} nodes, ${ms.toFixed(0)} ms, ${result.counts.rounds} rounds`);
    if (i === 0) console.log(JSON.stringify(result.counts));
  }
}
