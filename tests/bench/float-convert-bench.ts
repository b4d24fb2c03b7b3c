/**
 * Throughput of the float32 → float16 / bfloat16 converters, in elements per second, on weight-like data (about
 * N(0, 0.035²) like trained conv and linear weights, 1 in 100,000 an outlier past float16's range; about 0.2% fall
 * in float16's subnormals), directly and streamed through a lazy tensor as the writer reads it; then on data whose
 * every value is a float16 subnormal, the slow path's worst case.
 * Run: npm run build && node dist/tests/bench/float-convert-bench.js [million elements, default 64]
 */
import os from 'node:os';
import { performance } from 'node:perf_hooks';
import { InlineData, Tensor } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';
import { bfloat16NarrowingOf, float16NarrowingOf, float32ToBfloat16, float32ToFloat16 } from '../../src/numeric/float-convert.js';
import { narrowTensor } from '../../src/precision/convert-tensor.js';

const millions = Number(process.argv[2] ?? 64);
const n = Math.round(millions * 1e6);
const values = new Float32Array(n);
let seed = 12345;
const uniform = () => {
  seed = (Math.imul(seed, 1664525) + 1013904223) | 0;
  return (seed >>> 8) / 16777216;
};
for (let i = 0; i < n; i++) {
  const normal = uniform() + uniform() + uniform() + uniform() - 2; // Irwin–Hall: mean 0, variance 1/3
  values[i] = i % 100_000 === 0 ? normal * 3e5 : normal * 0.06;
}
const source = new Int32Array(values.buffer);
const target = new Uint16Array(n);

function measure(name: string, run: () => void | Promise<void>, repeats = 5): Promise<void> {
  return (async () => {
    const rates: number[] = [];
    const cpuRates: number[] = [];
    for (let r = 0; r < repeats; r++) {
      const cpu = process.cpuUsage();
      const t = performance.now();
      await run();
      const ms = performance.now() - t;
      const used = process.cpuUsage(cpu);
      rates.push(n / ms / 1e3);
      cpuRates.push(n / ((used.user + used.system) / 1e3) / 1e3);
    }
    rates.sort((a, b) => a - b);
    cpuRates.sort((a, b) => a - b);
    const median = (xs: number[]) => xs[Math.floor(xs.length / 2)]!;
    console.log(
      `${name.padEnd(34)} wall: best ${rates[rates.length - 1]!.toFixed(0)}, median ${median(rates).toFixed(0)} M elements/s; per CPU-second: median ${median(cpuRates).toFixed(0)} M`,
    );
  })();
}

console.log(`${millions} M float32 elements; node ${process.version}; ${os.cpus()[0]?.model ?? '?'} × ${os.cpus().length}; load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
await measure('float32 → float16', () => float32ToFloat16(source, target));
await measure('float32 → bfloat16', () => float32ToBfloat16(source, target));
await measure('float32 → float16, with counts', () => float32ToFloat16(source, target, { clamped: 0, flushed: 0 }));
await measure('float16 clamp/flush scan only', () => float16NarrowingOf(source, { clamped: 0, flushed: 0 }));
await measure('bfloat16 clamp/flush scan only', () => bfloat16NarrowingOf(source, { clamped: 0, flushed: 0 }));
const tensor = new Tensor(DataType.FLOAT, [n], new InlineData(new Uint8Array(values.buffer)));
await measure('streamed (lazy tensor, 16 MB chunks)', async () => {
  for await (const chunk of narrowTensor(tensor, DataType.FLOAT16).data.chunks()) if (chunk.byteLength === 0) throw new Error('empty chunk');
});
for (let i = 0; i < n; i++) values[i] = (uniform() - 0.5) * 2 ** -14;
await measure('float32 → float16, all subnormal', () => float32ToFloat16(source, target));
console.log(`load average after: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}`);
