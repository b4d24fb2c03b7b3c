/**
 * I/O benchmark (not a test): synthesizes the full-size SDXL UNet (10.27 GB of weights) into a cache folder, then
 * reads it and rewrites it with external data at aligned offsets, printing wall time, throughput and peak RSS.
 *
 *   npm run bench:io [-- --dir /tmp/sdxl-opt-bench] [-- --keep]
 *   /usr/bin/time -v node dist/tests/bench/io-bench.js
 *
 * The synthesized model (<dir>/full) is reused when complete; the rewrite (<dir>/rewrite) is removed at the end
 * unless --keep is given.
 */
import fs from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import { synthesizeWeights, SYNTH_MODEL_NAME } from '../../src/synth.js';
import { fixture } from '../helpers/fixtures.js';

const GB = 1e9;
const { values } = parseArgs({ options: { dir: { type: 'string', default: '/tmp/sdxl-opt-bench' }, keep: { type: 'boolean', default: false } } });
const cache = path.join(values.dir!, 'full');
const rewrite = path.join(values.dir!, 'rewrite');
const graph = fixture('sdxl-unet-full-graph-only.onnx');

const peakRssMb = () => process.resourceUsage().maxRSS / 1024; // maxRSS is in KiB
const line = (s: string) => process.stdout.write(`${s}\n`);
const progress = (label: string) => {
  let last = 0;
  return (written: number, total: number) => {
    const now = performance.now();
    if (process.stderr.isTTY && (now - last > 500 || written === total)) {
      last = now;
      process.stderr.write(`\r${label}: ${((100 * written) / total).toFixed(0)}%\x1b[K`);
    }
  };
};

/** The cache is complete when its graph is the fixture's and every data file reaches the end of its tensors. */
async function cacheIsComplete(): Promise<boolean> {
  const model = path.join(cache, SYNTH_MODEL_NAME);
  if (!fs.existsSync(model) || !fs.readFileSync(model).equals(fs.readFileSync(graph))) return false;
  try {
    await readModel(model, { requireData: true });
    return true;
  } catch {
    return false;
  }
}

line(`node ${process.version}, ${(await import('node:os')).cpus().length} CPUs, folder ${values.dir}`);
if (await cacheIsComplete()) {
  line(`synth: reusing ${cache}`);
} else {
  fs.rmSync(cache, { recursive: true, force: true });
  const t0 = performance.now();
  const result = await synthesizeWeights(graph, cache, { onProgress: progress('synth') });
  const seconds = (performance.now() - t0) / 1000;
  const bytes = result.dataFiles.reduce((s, f) => s + f.bytes, 0);
  line(`\nsynth: ${result.tensors} tensors, ${(bytes / GB).toFixed(2)} GB in ${seconds.toFixed(1)} s = ${(bytes / GB / seconds).toFixed(2)} GB/s; peak RSS so far ${peakRssMb().toFixed(0)} MB`);
}

fs.rmSync(rewrite, { recursive: true, force: true });
fs.mkdirSync(rewrite, { recursive: true });
const t0 = performance.now();
const model = await readModel(path.join(cache, SYNTH_MODEL_NAME), { requireData: true });
const tRead = performance.now();
const result = await writeModel(model, path.join(rewrite, 'model.onnx'), { externalData: 'always', onProgress: progress('rewrite') });
const seconds = (performance.now() - t0) / 1000;
line(
  `\nread+rewrite: ${result.externalTensors} external + ${result.inlineTensors} inline tensors, ${(result.dataBytes / GB).toFixed(2)} GB in ${seconds.toFixed(1)} s` +
    ` (read ${((tRead - t0) / 1000).toFixed(2)} s) = ${(result.dataBytes / GB / seconds).toFixed(2)} GB/s`,
);

// Spot check: a few tensors read back the same from the rewrite.
const rewritten = await readModel(result.modelFile, { requireData: true });
for (const name of ['u.conv_in.weight', 'u.down_blocks.1.attentions.0.transformer_blocks.0.norm1.weight', model.graph.initializers().at(-2)!.name]) {
  const a = Buffer.from(await model.graph.initializer(name)!.initializer!.bytes());
  const b = Buffer.from(await rewritten.graph.initializer(name)!.initializer!.bytes());
  if (!a.equals(b)) throw new Error(`initializer '${name}' differs after the rewrite`);
}
line(`peak RSS ${peakRssMb().toFixed(0)} MB (process.resourceUsage().maxRSS)`);
if (!values.keep) fs.rmSync(rewrite, { recursive: true, force: true });
