/**
 * Parity metrics between a reference output and a candidate output, in double precision. Metrics are computed
 * over the elements finite on both sides; non-finite values are counted instead, and any on either side fails
 * the comparison: in the candidate, a NaN that the metrics skipped would otherwise pass silently; in the reference,
 * there is nothing trustworthy to compare against (the input model is broken, or the inputs drove it out of range).
 */

export interface Tolerance {
  /** Minimum cosine similarity. Default 0.999. */
  cosine?: number;
  /** Maximum relative L2 error ‖c − r‖ / ‖r‖. Not checked unless given. */
  relL2?: number;
  /** Maximum absolute error of any element. Not checked unless given. */
  maxAbs?: number;
}

export const DEFAULT_TOLERANCE: Readonly<Required<Pick<Tolerance, 'cosine'>>> = { cosine: 0.999 };

export interface OutputComparison {
  name: string;
  /** The candidate's ORT type (float16 outputs are compared after conversion to float32). */
  dtype: string;
  dims: number[];
  cosine: number;
  relL2: number;
  maxAbs: number;
  nonFinite: { reference: number; candidate: number };
  passed: boolean;
  failures: string[];
}

export interface Metrics {
  cosine: number;
  relL2: number;
  maxAbs: number;
  nonFinite: { reference: number; candidate: number };
}

export function metrics(reference: ArrayLike<number>, candidate: ArrayLike<number>): Metrics {
  if (reference.length !== candidate.length) {
    throw new RangeError(`metrics need equal lengths, got ${reference.length} and ${candidate.length}`);
  }
  let dot = 0;
  let rr = 0;
  let cc = 0;
  let dd = 0;
  let maxAbs = 0;
  const nonFinite = { reference: 0, candidate: 0 };
  for (let i = 0; i < reference.length; i++) {
    const r = reference[i]!;
    const c = candidate[i]!;
    const rFinite = Number.isFinite(r);
    const cFinite = Number.isFinite(c);
    if (!rFinite) nonFinite.reference++;
    if (!cFinite) nonFinite.candidate++;
    if (!rFinite || !cFinite) continue;
    const d = c - r;
    dot += r * c;
    rr += r * r;
    cc += c * c;
    dd += d * d;
    if (Math.abs(d) > maxAbs) maxAbs = Math.abs(d);
  }
  // Two zero vectors are identical; a zero and a non-zero vector share no direction.
  const cosine = rr === 0 && cc === 0 ? 1 : rr === 0 || cc === 0 ? 0 : dot / Math.sqrt(rr * cc);
  const relL2 = dd === 0 ? 0 : rr === 0 ? Infinity : Math.sqrt(dd / rr);
  return { cosine: Math.min(cosine, 1), relL2, maxAbs, nonFinite };
}

/** Checks metrics against a tolerance; returns the failures as sentences naming the output. */
export function toleranceFailures(name: string, m: Metrics, tolerance: Tolerance): string[] {
  const cosine = tolerance.cosine ?? DEFAULT_TOLERANCE.cosine;
  const failures: string[] = [];
  if (m.nonFinite.candidate > 0) {
    failures.push(`${name}: ${m.nonFinite.candidate} non-finite values (NaN or ±Infinity) in the candidate`);
  }
  if (m.nonFinite.reference > 0) {
    failures.push(`${name}: ${m.nonFinite.reference} non-finite values (NaN or ±Infinity) in the reference: its outputs cannot be compared against`);
  }
  if (!(m.cosine >= cosine)) failures.push(`${name}: cosine ${fmt(m.cosine)} is below ${cosine}`);
  if (tolerance.relL2 !== undefined && !(m.relL2 <= tolerance.relL2)) {
    failures.push(`${name}: relative L2 error ${fmt(m.relL2)} is above ${tolerance.relL2}`);
  }
  if (tolerance.maxAbs !== undefined && !(m.maxAbs <= tolerance.maxAbs)) {
    failures.push(`${name}: max abs error ${fmt(m.maxAbs)} is above ${tolerance.maxAbs}`);
  }
  return failures;
}

export function compareOutput(
  name: string,
  reference: { dims: readonly number[]; values: ArrayLike<number> },
  candidate: { dtype: string; dims: readonly number[]; values: ArrayLike<number> },
  tolerance: Tolerance,
): OutputComparison {
  const base = { name, dtype: candidate.dtype, dims: [...candidate.dims] };
  if (reference.dims.join(',') !== candidate.dims.join(',')) {
    return {
      ...base,
      cosine: NaN,
      relL2: NaN,
      maxAbs: NaN,
      nonFinite: { reference: 0, candidate: 0 },
      passed: false,
      failures: [`${name}: shape [${candidate.dims.join(', ')}] differs from the reference's [${reference.dims.join(', ')}]`],
    };
  }
  const m = metrics(reference.values, candidate.values);
  const failures = toleranceFailures(name, m, tolerance);
  return { ...base, ...m, passed: failures.length === 0, failures };
}

function fmt(x: number): string {
  return Number.isFinite(x) ? x.toPrecision(6) : String(x);
}
