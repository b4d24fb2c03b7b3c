/**
 * Applies the cast pass to a model file and writes the result, timing the pass (which reads every converted weight
 * once to count clamps) and the write (which converts each weight chunk by chunk as it streams). For peak memory
 * run it under `/usr/bin/time -v`.
 * Run: npm run build && node dist/tests/bench/cast-apply-bench.js <model.onnx> <output dir> [float16|bfloat16] [cuda|cpu]
 */
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { cast } from '../../passes/cast.js';
import { defaultParams } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';

const [file, outDir, to = 'float16', target = 'cuda'] = process.argv.slice(2);
if (!file || !outDir) throw new Error('usage: cast-apply-bench <model.onnx> <output dir> [float16|bfloat16] [cuda|cpu]');
let t = performance.now();
const model = await readModel(file, { requireData: true });
console.log(`read: ${(performance.now() - t).toFixed(0)} ms, ${model.graph.nodeCount} nodes, ${model.graph.initializers().length} initializers`);
t = performance.now();
const result = await cast.run(
  { model, graph: model.graph, dims: {}, target: target as 'cuda' | 'cpu', log: (m) => console.log(`  ${m}`), progress() {} },
  { ...defaultParams(cast), to: to as 'float16' | 'bfloat16' },
);
console.log(`cast: ${(performance.now() - t).toFixed(0)} ms: ${result.summary}`);
console.log(JSON.stringify(result.counts));
t = performance.now();
const written = await writeModel(model, path.join(outDir, 'model.onnx'));
const ms = performance.now() - t;
console.log(`write: ${ms.toFixed(0)} ms, ${written.dataBytes} data bytes (${(written.dataBytes / 1e6 / (ms / 1e3)).toFixed(0)} MB/s written)`);
console.log(`peak RSS (process.resourceUsage): ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MB`);
