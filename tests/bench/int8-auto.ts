/**
 * Times dynamic-int8's `filter: auto` on a model's layer shapes: float MatMul against the int8 form, one
 * micro-model pair per distinct (rows, in, out), on the given provider. Weights are never read (the probes use
 * seeded weights), so the graph-only full UNet works:
 *   node dist/tests/bench/int8-auto.js fixtures/sdxl-unet-full-graph-only.onnx '{"batch":2,"height":128,"width":128,"sequence":77}' cuda 20 tensor
 * Prints one line per shape (float ms, int8 ms, change, decision), then which shapes auto would quantize.
 */
import { defaultParams } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { modelTimer } from '../../src/runtime/index.js';
import { dynamicInt8 } from '../../passes/dynamic-int8.js';

const [file, dimsJson, providerText, itersText, scaleText] = process.argv.slice(2);
if (!file) {
  process.stderr.write('usage: int8-auto.js <model.onnx> [dims as JSON] [cpu|cuda] [iters] [tensor|row]\n');
  process.exitCode = 2;
} else {
  const provider = providerText === 'cpu' ? 'cpu' : 'cuda';
  const model = await readModel(file);
  const started = performance.now();
  const result = await dynamicInt8.run(
    {
      model,
      graph: model.graph,
      dims: dimsJson ? (JSON.parse(dimsJson) as Record<string, number>) : {},
      target: provider,
      log: (m) => console.log(m),
      progress: () => {},
      measure: modelTimer({ provider }),
    },
    {
      ...defaultParams(dynamicInt8),
      filter: 'auto',
      target: provider,
      activation_scale: scaleText === 'row' ? 'row' : 'tensor',
      auto_iters: Number(itersText ?? 20),
    },
  );
  console.log(`${result.summary} (${((performance.now() - started) / 1000).toFixed(1)} s)`);
}
