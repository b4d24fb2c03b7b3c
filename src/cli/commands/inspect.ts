/** `sdxl-opt inspect <model>`: what a model holds and what it costs to run. */
import type { Command } from '../command.js';
import { readModel } from '../../io/read.js';
import { inspectModel } from '../../inspect.js';
import { countNonFiniteWeights } from '../../inspect/non-finite.js';
import { formatInspectReport } from '../../inspect/format.js';
import { parseDims } from '../parse-dims.js';

export const inspectCommand: Command = {
  command: 'inspect <model>',
  describe: 'Summarize a model: inputs, ops, parameters, weight shapes, attention blocks, FLOPs, NaN/Inf in the weights (weights are optional)',
  builder: (y) =>
    y
      .positional('model', { type: 'string', describe: 'the .onnx file', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .option('weights', {
        type: 'boolean',
        default: true,
        describe: 'read the weights present to count NaN and ±Infinity in them (--no-weights: the graph only)',
      })
      .option('dims', {
        type: 'string',
        describe: 'sizes for symbolic input dims, for shapes and FLOPs: batch=2,height=128,width=128,sequence=77',
      }),
  async run(args) {
    const file = String(args.model);
    const dims = parseDims(args.dims as string | undefined);
    const model = await readModel(file);
    const report = inspectModel(model, { dims });
    if (args.weights !== false) report.nonFiniteWeights = await countNonFiniteWeights(model.graph);
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report, file));
    return 0;
  },
};
