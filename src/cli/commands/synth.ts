/** `sdxl-opt synth <graph.onnx> <out-dir>`: a complete model with synthetic weights from a graph-only export. */
import { synthesizeWeights, SYNTH_MODEL_NAME } from '../../synth.js';
import type { Command } from '../command.js';

const GB = 1e9;

export const synthCommand: Command = {
  command: 'synth <graph> <out-dir>',
  describe: `write deterministic synthetic weights for a graph-only model: copies it to <out-dir>/${SYNTH_MODEL_NAME} and fills its external data files`,
  builder: (y) =>
    y
      .positional('graph', { type: 'string', describe: 'the .onnx graph (its external data files need not exist)', demandOption: true })
      .positional('out-dir', { type: 'string', describe: "output folder (created if needed; not the graph's own folder)", demandOption: true })
      .option('seed', { type: 'number', default: 0, describe: 'seed of the values: the same seed writes the same bytes' }),
  async run(args) {
    const started = performance.now();
    const showProgress = process.stderr.isTTY;
    let lastShown = 0;
    const result = await synthesizeWeights(String(args.graph), String(args['out-dir']), {
      seed: Number(args.seed),
      onProgress: showProgress
        ? (written, total) => {
            const now = performance.now();
            if (now - lastShown < 250 && written < total) return;
            lastShown = now;
            process.stderr.write(`\r${((100 * written) / Math.max(1, total)).toFixed(0)}% of ${(total / GB).toFixed(2)} GB`);
          }
        : undefined,
    });
    if (showProgress) process.stderr.write('\r\x1b[K');
    const seconds = (performance.now() - started) / 1000;
    const bytes = result.dataFiles.reduce((s, f) => s + f.bytes, 0);
    process.stdout.write(`wrote ${result.modelFile}\n`);
    for (const f of result.dataFiles) process.stdout.write(`wrote ${f.file} (${f.bytes} bytes)\n`);
    process.stdout.write(
      `${result.tensors} initializers (${result.normScales} norm scales around 1), ${(bytes / GB).toFixed(2)} GB in ${seconds.toFixed(1)} s` +
        ` (${(bytes / GB / seconds).toFixed(2)} GB/s), seed ${Number(args.seed)}\n`,
    );
  },
};
