/** `sdxl-opt validate <reference> <candidate>`: parity of two models on the same seeded inputs. Exit 1 on failure. */
import { SdxlOptError } from '../../errors.js';
import { describePlacement, validateModels, type Tolerance, type ValidationReport } from '../../runtime/index.js';
import type { Command } from '../command.js';
import { runtimeArgs, withRuntimeOptions } from '../runtime-options.js';
import { fixed, formatTable } from '../table.js';

export const validateCommand: Command = {
  command: 'validate <reference> <candidate>',
  describe: 'compare every output of a candidate model with a reference on the same seeded inputs',
  builder: (y) =>
    withRuntimeOptions(y)
      .positional('reference', { type: 'string', describe: 'the model to trust (.onnx)' })
      .positional('candidate', { type: 'string', describe: 'the optimized model (.onnx)' })
      .option('cosine', { type: 'number', describe: 'minimum cosine similarity per output (default 0.999)' })
      .option('rel-l2', { type: 'number', describe: 'maximum relative L2 error per output (not checked by default)' })
      .option('max-abs', { type: 'number', describe: 'maximum absolute error per output (not checked by default)' }),
  async run(args) {
    const options = runtimeArgs(args);
    if (options.providerNote && !options.json) process.stderr.write(`${options.providerNote}\n`);
    const report = await validateModels(String(args.reference), String(args.candidate), {
      provider: options.provider,
      dims: options.dims,
      seed: options.seed,
      strict: options.strict,
      threads: options.threads,
      tolerance: tolerance(args),
    });
    process.stdout.write(options.json ? `${JSON.stringify(report, null, 2)}\n` : formatValidation(report));
    return report.passed ? 0 : 1;
  },
};

function tolerance(args: Record<string, unknown>): Tolerance {
  const t: Tolerance = {};
  const cosine = args.cosine;
  const relL2 = args['rel-l2'];
  const maxAbs = args['max-abs'];
  if (cosine !== undefined) {
    if (typeof cosine !== 'number' || !(cosine > -1 && cosine <= 1)) throw new SdxlOptError('BAD_PARAM', `--cosine must be in (-1, 1], got ${String(cosine)}`);
    t.cosine = cosine;
  }
  if (relL2 !== undefined) {
    if (typeof relL2 !== 'number' || !(relL2 >= 0)) throw new SdxlOptError('BAD_PARAM', `--rel-l2 must be a number ≥ 0, got ${String(relL2)}`);
    t.relL2 = relL2;
  }
  if (maxAbs !== undefined) {
    if (typeof maxAbs !== 'number' || !(maxAbs >= 0)) throw new SdxlOptError('BAD_PARAM', `--max-abs must be a number ≥ 0, got ${String(maxAbs)}`);
    t.maxAbs = maxAbs;
  }
  return t;
}

export function formatValidation(r: ValidationReport): string {
  const dims = Object.entries(r.dims).map(([k, v]) => `${k}=${v}`).join(' ') || '(static)';
  const rows = r.outputs.map((o) => [
    o.name,
    o.dtype,
    `[${o.dims.join(',')}]`,
    Number.isFinite(o.cosine) ? o.cosine.toFixed(6) : '-',
    Number.isFinite(o.relL2) ? o.relL2.toExponential(2) : '-',
    Number.isFinite(o.maxAbs) ? o.maxAbs.toExponential(2) : '-',
    `${o.nonFinite.reference}/${o.nonFinite.candidate}`,
    o.passed ? 'ok' : 'FAIL',
  ]);
  const tol = [`cosine ≥ ${r.tolerance.cosine}`, r.tolerance.relL2 !== undefined ? `relL2 ≤ ${r.tolerance.relL2}` : '', r.tolerance.maxAbs !== undefined ? `maxAbs ≤ ${r.tolerance.maxAbs}` : '']
    .filter(Boolean)
    .join(', ');
  const lines = [
    `reference: ${r.reference}  (${fixed(r.referenceMs, 1)} ms first run)`,
    `candidate: ${r.candidate}  (${fixed(r.candidateMs, 1)} ms first run)`,
    `provider: ${r.provider}; dims: ${dims}; seed ${r.seed}; tolerance: ${tol}`,
    '',
    formatTable(['output', 'dtype', 'shape', 'cosine', 'relL2', 'maxAbs', 'non-finite ref/cand', 'result'], rows, ['left', 'left', 'left', 'right', 'right', 'right', 'right', 'left']),
    '',
    `placement, reference: ${r.placement.reference ? describePlacement(r.placement.reference) : '-'}`,
    `placement, candidate: ${describePlacement(r.placement.candidate)}`,
    '',
    r.passed ? 'PASSED' : `FAILED:\n${r.failures.map((f) => `  - ${f}`).join('\n')}`,
  ];
  return `${lines.join('\n')}\n`;
}
