/** report.md: the apply report for people. Same facts as report.json, as tables. */
import type { StepReport } from '../engine/runner.js';
import type { GraphStats } from '../engine/stats.js';
import type { ApplyReport, ComponentReport } from './report.js';

export function renderReport(r: ApplyReport): string {
  const out: string[] = [];
  out.push(`# sdxl-opt report: ${statusText(r.status)}`, '');
  out.push(`- recipe: \`${r.recipe.file}\` (target ${r.recipe.target}${Object.keys(r.recipe.dims).length ? `, dims ${dimsText(r.recipe.dims)}` : ''})`);
  out.push(`- model: \`${r.model}\`${r.pipeline ? ' (pipeline folder)' : ''}`);
  out.push(`- output: \`${r.output}\``);
  out.push(`- date: ${r.date}; total time ${seconds(r.wallMs)}${r.peakRssBytes ? `, peak RSS ${bytes(r.peakRssBytes)}` : ''}`);
  out.push(`- sdxl-opt ${r.environment.sdxlOpt}, Node ${r.environment.node}, ${r.environment.platform}, ${r.environment.cpus} × ${r.environment.cpu}, ${r.environment.memoryMiB} MiB`);
  const rt = r.environment.runtime;
  if (rt && 'error' in rt) out.push(`- ONNX Runtime: not available (${rt.error})`);
  else if (rt) {
    const providers = [`cpu`, rt.providers.cuda ? 'cuda' : `cuda unavailable${rt.providers.cudaError ? ` (${firstLine(rt.providers.cudaError)})` : ''}`].join(', ');
    out.push(`- ONNX Runtime ${rt.ortVersion} (providers: ${providers})${rt.gpu ? `, GPU ${rt.gpu.name} (driver ${rt.gpu.driver}, ${rt.gpu.memoryMiB} MiB)` : ''}`);
  }
  if (r.skipped.length) out.push(`- switched off in the recipe: ${r.skipped.join(', ')}`);
  for (const w of r.warnings) out.push(`- warning: ${w}`);
  out.push('');
  for (const c of r.components) out.push(...component(c, r.components.length > 1 || r.pipeline));
  return `${out.join('\n').replace(/\n{3,}/g, '\n\n').trimEnd()}\n`;
}

function component(c: ComponentReport, titled: boolean): string[] {
  const out: string[] = [];
  if (titled) out.push(`## ${c.name}: ${statusText(c.status)}`, '');
  out.push(`Input \`${c.input.file}\` (${bytes(c.input.bytes)})${c.output ? `; wrote ${c.output.files.map((f) => `\`${f}\``).join(', ')} (${bytes(c.output.modelBytes + c.output.dataBytes)})` : ''}.`);
  const t = c.timings;
  out.push(`Times: ${(['read', 'passes', 'write', 'validate', 'bench'] as const).filter((s) => t[s] !== undefined).map((s) => `${s} ${seconds(t[s]!)}`).join(', ')}.`, '');
  if (c.error) {
    out.push(`**Failed while ${stageText(c.error.stage)}** (${c.error.code}): ${c.error.message}`);
    if (c.error.where) out.push(`where: ${c.error.where}`);
    if (c.error.hint) out.push(`hint: ${c.error.hint}`);
    out.push('');
  }
  if (c.inputProblems.length) {
    out.push('Problems found in the input model (not caused by any pass):', '', ...c.inputProblems.map((p) => `- ${p}`), '');
  }
  if (c.inference) {
    const i = c.inference;
    const unknown = Object.entries(i.unknownOps).map(([op, n]) => `${op} ×${n}`);
    out.push(`Type inference: ${i.complete} of ${i.values} values fully typed (${ms(i.ms)})${unknown.length ? `; no rule for ${unknown.join(', ')}` : ''}.`);
    for (const issue of i.issues) out.push(`- inference: ${issue}`);
    out.push('');
  }
  out.push(...passes(c));
  if (c.before) out.push(...graphs(c.before, c.after));
  if (c.validation) {
    const v = c.validation;
    out.push(`### Parity: ${v.result.passed ? 'passed' : '**failed**'}`, '');
    // The runtime reports the dims and tolerance it used (its defaults filled in); the recipe's are the fallback.
    out.push(`On ${v.provider}, dims ${dimsText(v.result.dims ?? v.dims)}, seed ${v.seed}, tolerance ${toleranceText(v.result.tolerance ?? v.tolerance)}.`, '');
    out.push('| output | cosine | rel L2 | max abs | non-finite (input / optimized) |', '|---|---:|---:|---:|---:|');
    for (const o of v.result.outputs) {
      out.push(`| ${o.name} | ${o.cosine.toFixed(6)} | ${sci(o.relL2)} | ${sci(o.maxAbs)} | ${o.nonFinite.reference} / ${o.nonFinite.candidate} |`);
    }
    for (const f of v.result.failures) out.push('', `- ${f}`);
    out.push('');
  }
  if (c.bench) {
    const b = c.bench;
    out.push(`### Speed: ${b.speedup.toFixed(2)}× (median)`, '');
    out.push(`On ${b.provider}, dims ${dimsText(b.dims)}, ${b.iters} runs after ${b.warmup} warm-up runs.`, '');
    out.push('| model | load | median | min | max |', '|---|---:|---:|---:|---:|');
    for (const [label, m] of [['before', b.before], ['after', b.after]] as const) {
      out.push(`| ${label} (\`${m.model}\`) | ${ms(m.loadMs)} | ${ms(m.medianMs)} | ${ms(m.minMs)} | ${ms(m.maxMs)} |`);
    }
    out.push('');
  }
  return out;
}

function passes(c: ComponentReport): string[] {
  const steps = c.passes;
  if (!steps.length) return ['No passes ran.', ''];
  const out = ['### Passes', '', '| # | pass | result | time | check | peak RSS | RSS after | nodes |', '|---|---|---|---:|---:|---:|---:|---|'];
  const notes: string[] = [];
  // Reading and writing the model are rows of their own: on a large model they are most of the time and memory.
  const stage = (name: 'read' | 'write', result: string): void => {
    const t = c.timings[name];
    const m = c.memory?.[name];
    if (t === undefined) return;
    out.push(`| · | *${name}* | ${cell(result)} | ${ms(t)} | | ${m ? bytes(m.peakRssBytes) : ''} | ${m ? bytes(m.rssAfterBytes) : ''} | |`);
  };
  stage('read', `${bytes(c.input.bytes)}`);
  const row = (s: StepReport, label: string): void => {
    const nodes = s.skipped ? '' : `${s.nodes.before} → ${s.nodes.after} (+${s.nodes.created} −${s.nodes.removed})`;
    const result = s.skipped ? 'skipped (disabled)' : `${s.changed ? '' : 'no change: '}${s.summary}`;
    const figures = s.skipped ? ['', '', '', ''] : [ms(s.wallMs), ms(s.checkMs), bytes(s.peakRssBytes ?? 0), bytes(s.rssAfterBytes ?? 0)];
    out.push(`| ${label} | ${s.pass} | ${cell(result)} | ${figures.join(' | ')} | ${nodes} |`);
    if (!s.changed && s.reasons?.length) notes.push(`- ${s.pass} (${label}) changed nothing because: ${s.reasons.join('; ')}`);
    for (const w of s.warnings) notes.push(`- ${s.pass} (${label}): ${w}`);
    s.steps?.forEach((sub, i) => row(sub, `${label}.${i + 1}`));
  };
  steps.forEach((s, i) => row(s, String(i + 1)));
  stage('write', c.output ? `${bytes(c.output.modelBytes + c.output.dataBytes)}` : 'not written');
  out.push('');
  if (notes.length) out.push(...notes, '');
  return out;
}

function graphs(before: GraphStats, after: GraphStats | undefined): string[] {
  const out = ['### Graph', ''];
  out.push(`${before.nodes} nodes → ${after ? after.nodes : '?'}; ${before.initializers} initializers (${bytes(before.initializerBytes)}) → ${after ? `${after.initializers} (${bytes(after.initializerBytes)})` : '?'}.`, '');
  const ops = [...new Set([...Object.keys(before.opTypes), ...Object.keys(after?.opTypes ?? {})])];
  out.push('| op type | before | after |', '|---|---:|---:|');
  for (const op of ops) {
    const b = before.opTypes[op] ?? 0;
    const a = after?.opTypes[op] ?? 0;
    out.push(`| ${op} | ${b} | ${a !== b ? `**${a}**` : a} |`);
  }
  out.push('', '| initializers by type | before | after |', '|---|---:|---:|');
  const dtypes = [...new Set([...Object.keys(before.initializerBytesByDtype), ...Object.keys(after?.initializerBytesByDtype ?? {})])];
  for (const d of dtypes) out.push(`| ${d} | ${bytes(before.initializerBytesByDtype[d] ?? 0)} | ${bytes(after?.initializerBytesByDtype[d] ?? 0)} |`);
  out.push('');
  return out;
}

function statusText(s: ApplyReport['status']): string {
  return s === 'ok' ? 'ok' : s === 'validation-failed' ? 'parity outside tolerance' : 'failed';
}

function stageText(s: string): string {
  return { read: 'reading the model', passes: 'running passes', write: 'writing the model', validate: 'validating', bench: 'benchmarking' }[s] ?? s;
}

function dimsText(d: Record<string, number>): string {
  const entries = Object.entries(d);
  return entries.length ? entries.map(([k, v]) => `${k}=${v}`).join(' ') : '(none)';
}

function toleranceText(t: { cosine?: number; relL2?: number; maxAbs?: number }): string {
  const parts = [t.cosine !== undefined && `cosine ≥ ${t.cosine}`, t.relL2 !== undefined && `rel L2 ≤ ${t.relL2}`, t.maxAbs !== undefined && `max abs ≤ ${t.maxAbs}`].filter(Boolean);
  return parts.length ? parts.join(', ') : "the runtime's defaults";
}

function firstLine(s: string): string {
  const line = s.split('\n')[0]!.trim();
  return line.length > 160 ? `${line.slice(0, 159)}…` : line;
}

function cell(s: string): string {
  return s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
}

export function bytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ['KiB', 'MiB', 'GiB', 'TiB'];
  let v = n / 1024;
  let u = 0;
  while (v >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

export function ms(n: number): string {
  return n < 10 ? `${n.toFixed(2)} ms` : `${n.toFixed(0)} ms`;
}

function seconds(n: number): string {
  return n < 1000 ? ms(n) : `${(n / 1000).toFixed(1)} s`;
}

function sci(n: number): string {
  return n === 0 ? '0' : n.toExponential(2);
}
