/**
 * `sdxl-opt table <recipe...>`: builds each recipe's model (or, with --each-pass, the model after each step of one
 * recipe) and measures every form against the original in one process: median ms, speed-up over the original in
 * the same rounds, parity, and what ran on the CPU. The tables in results/ are made with it.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { runtimeEnvironment } from '../../runtime/index.js';
import { candidatesFromRecipes } from '../../table/candidates.js';
import { checkWorkDir, compareCandidates } from '../../table/compare.js';
import { renderTable } from '../../table/render.js';
import type { Command } from '../command.js';
import { countArg, runtimeArgs, withRuntimeOptions } from '../runtime-options.js';
import { VERSION } from '../../version.js';

export const tableCommand: Command = {
  command: 'table <recipes..>',
  describe: 'measure recipes (or each step of one recipe) against the original model, one process, one table',
  builder: (y) =>
    withRuntimeOptions(y)
      .positional('recipes', { type: 'string', array: true, describe: 'recipes (.yaml) whose models to build and measure' })
      .option('model', { type: 'string', describe: "the model to build from (default: the recipes' model:)" })
      .option('each-pass', { type: 'boolean', default: false, describe: 'one row per step of a single recipe (the per-pass contribution)' })
      .option('iters', { type: 'number', default: 20, describe: 'timed rounds per form' })
      .option('warmup', { type: 'number', default: 3, describe: 'untimed runs per form first' })
      .option('work-dir', { type: 'string', describe: 'where forms are written while measured (default: a new temp folder)' })
      .option('keep', { type: 'boolean', default: false, describe: 'keep the built forms in the work folder' })
      .option('out', { type: 'string', describe: 'also write the table to this folder (table.md, table.json)' }),
  async run(args) {
    const options = runtimeArgs(args);
    const { modelFile, candidates } = candidatesFromRecipes((args.recipes as unknown[]).map(String), {
      ...(typeof args.model === 'string' ? { model: args.model } : {}),
      eachPass: Boolean(args['each-pass']),
    });
    const workDir = typeof args['work-dir'] === 'string' ? path.resolve(args['work-dir']) : fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-table-'));
    checkWorkDir(workDir);
    const quiet = options.json || !process.stderr.isTTY;
    const report = await compareCandidates(modelFile, candidates, {
      provider: options.provider,
      dims: options.dims,
      iters: countArg(args, 'iters', 1),
      warmup: countArg(args, 'warmup', 1),
      seed: options.seed,
      threads: options.threads,
      workDir,
      keep: Boolean(args.keep),
      onProgress: (m) => {
        if (!quiet || process.env.SDXL_OPT_VERBOSE) process.stderr.write(`${m}\n`);
      },
    });
    if (!args.keep) fs.rmSync(workDir, { recursive: true, force: true });
    const env = await runtimeEnvironment();
    const environment = `sdxl-opt ${VERSION}; ONNX Runtime ${env.ortVersion}; Node ${env.nodeVersion}; ${env.gpu ? `${env.gpu.name} (driver ${env.gpu.driver})` : 'no GPU'}; ${new Date().toISOString()}`;
    const markdown = renderTable(report, environment);
    if (typeof args.out === 'string') {
      fs.mkdirSync(args.out, { recursive: true });
      fs.writeFileSync(path.join(args.out, 'table.md'), markdown);
      fs.writeFileSync(path.join(args.out, 'table.json'), `${JSON.stringify({ environment, ...report }, null, 2)}\n`);
    }
    process.stdout.write(options.json ? `${JSON.stringify({ environment, ...report }, null, 2)}\n` : markdown);
    return report.rows.every((r) => r.passed) ? 0 : 1;
  },
};
