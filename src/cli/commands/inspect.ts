/** `sdxl-opt inspect <model>`: what a model holds and what it costs to run. */
import type { Command } from '../command.js';
import { readModel } from '../../io/read.js';
import { inspectModel } from '../../inspect.js';
import { formatInspectReport } from '../../inspect/format.js';
import { parseDims } from '../parse-dims.js';

export const inspectCommand: Command = {
  command: 'inspect <model>',
  describe: 'Summarize a model: inputs, ops, parameters, weight shapes, attention blocks, FLOPs (needs no weights)',
  builder: (y) =>
    y
      .positional('model', { type: 'string', describe: 'the .onnx file', demandOption: true })
      .option('json', { type: 'boolean', default: false, describe: 'print the report as JSON' })
      .option('dims', {
        type: 'string',
        describe: 'sizes for symbolic input dims, for shapes and FLOPs: batch=2,height=128,width=128,sequence=77',
      }),
  async run(args) {
    const file = String(args.model);
    const dims = parseDims(args.dims as string | undefined);
    const model = await readModel(file);
    const report = inspectModel(model, { dims });
    process.stdout.write(args.json ? `${JSON.stringify(report, null, 2)}\n` : formatInspectReport(report, file));
    return 0;
  },
};
