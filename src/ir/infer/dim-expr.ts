/**
 * Arithmetic on dimensions that may be symbolic. A symbolic dim is a string; derived ones are canonical printed
 * polynomials over atoms ('height*width', '2*batch', 'floor((height+1)/2)'), so equal expressions get equal names
 * however they were reached. An atom is a name from the model ('batch', 'H', 'unk__12') or a floor division that
 * could not be simplified. Strings that do not parse as such an expression are atoms as a whole.
 *
 * Symbolic dims are sizes, so every atom is taken to be a non-negative integer: that is what lets
 * floor((2*h+1)/2) become h, and what Equal(dim, -1) relies on in shape chains.
 */
import type { Dim } from '../value.js';

/** Monomial key (atoms joined by '*', sorted; '' for the constant term) → integer coefficient. */
type Poly = Map<string, number>;

const parsed = new Map<string, Poly>();

/** The polynomial a dim stands for; numbers are constants. */
function polyOf(d: number | string): Poly {
  if (typeof d === 'number') return d === 0 ? new Map() : new Map([['', d]]);
  let p = parsed.get(d);
  if (!p) {
    p = parseExpr(d) ?? new Map([[d, 1]]);
    parsed.set(d, p);
  }
  return p;
}

function dimOf(p: Poly): number | string {
  if (p.size === 0) return 0;
  if (p.size === 1 && p.has('')) return p.get('')!;
  const text = printPoly(p);
  if (!parsed.has(text)) parsed.set(text, p);
  return text;
}

// ---- printing -------------------------------------------------------------------------------------------------

function degree(key: string): number {
  return key === '' ? 0 : key.split('*').length;
}

function orderTerms(a: string, b: string): number {
  return degree(b) - degree(a) || (a < b ? -1 : a > b ? 1 : 0);
}

function printPoly(p: Poly): string {
  let out = '';
  for (const key of [...p.keys()].sort(orderTerms)) {
    const c = p.get(key)!;
    const sign = c < 0 ? '-' : out ? '+' : '';
    const abs = Math.abs(c);
    const body = key === '' ? String(abs) : abs === 1 ? key : `${abs}*${key}`;
    out += sign + body;
  }
  return out || '0';
}

function isSingleAtom(p: Poly): boolean {
  return p.size === 1 && [...p.values()][0] === 1 && degree([...p.keys()][0]!) === 1;
}

// ---- parsing (only what printPoly writes, plus plain names) ----------------------------------------------------

function parseExpr(text: string): Poly | undefined {
  const tokens = text.match(/floor\(|[A-Za-z_][A-Za-z0-9_.]*|\d+|[-+*/()]|\s+|./g) ?? [];
  const toks = tokens.filter((t) => !/^\s+$/.test(t));
  let at = 0;
  const peek = (): string | undefined => toks[at];

  const sum = (): Poly | undefined => {
    let negate = false;
    if (peek() === '-') {
      negate = true;
      at++;
    }
    let acc = product();
    if (!acc) return undefined;
    if (negate) acc = scale(acc, -1);
    while (peek() === '+' || peek() === '-') {
      const op = toks[at++];
      const rhs = product();
      if (!rhs) return undefined;
      acc = add(acc, op === '-' ? scale(rhs, -1) : rhs);
    }
    return acc;
  };
  const product = (): Poly | undefined => {
    let acc = factor();
    while (acc && peek() === '*') {
      at++;
      const rhs = factor();
      if (!rhs) return undefined;
      acc = mul(acc, rhs);
    }
    return acc;
  };
  const factor = (): Poly | undefined => {
    const t = toks[at++];
    if (t === undefined) return undefined;
    if (/^\d+$/.test(t)) return polyOf(Number(t));
    if (t === '(') {
      const inner = sum();
      return toks[at++] === ')' ? inner : undefined;
    }
    if (t === 'floor(') {
      const num = sum();
      if (!num || toks[at++] !== '/') return undefined;
      const den = factor();
      if (!den || toks[at++] !== ')') return undefined;
      return floorDivPoly(num, den);
    }
    if (/^[A-Za-z_]/.test(t)) return new Map([[t, 1]]);
    return undefined;
  };
  const result = sum();
  return result && at === toks.length ? result : undefined;
}

// ---- polynomial arithmetic -------------------------------------------------------------------------------------

function add(a: Poly, b: Poly): Poly {
  const out = new Map(a);
  for (const [k, c] of b) {
    const s = (out.get(k) ?? 0) + c;
    if (s === 0) out.delete(k);
    else out.set(k, s);
  }
  return out;
}

function scale(a: Poly, k: number): Poly {
  if (k === 0) return new Map();
  return new Map([...a].map(([key, c]) => [key, c * k]));
}

function joinKeys(a: string, b: string): string {
  if (a === '') return b;
  if (b === '') return a;
  return [...a.split('*'), ...b.split('*')].sort().join('*');
}

function mul(a: Poly, b: Poly): Poly {
  let out: Poly = new Map();
  for (const [ka, ca] of a) for (const [kb, cb] of b) out = add(out, new Map([[joinKeys(ka, kb), ca * cb]]));
  return out;
}

/** The atoms of `key` with those of `divisor` taken out once each, or undefined when one is missing. */
function removeAtoms(key: string, divisor: string): string | undefined {
  if (divisor === '') return key;
  const atoms = key === '' ? [] : key.split('*');
  for (const d of divisor.split('*')) {
    const i = atoms.indexOf(d);
    if (i < 0) return undefined;
    atoms.splice(i, 1);
  }
  return atoms.join('*');
}

function floorDivPoly(num: Poly, den: Poly): Poly {
  if (den.size === 1) {
    const [[dKey, dCoef]] = [...den] as [[string, number]];
    if (dCoef > 0) {
      // floor((k*q + r) / k) = q + floor(r / k) for integer q; r keeps coefficients in [0, k).
      const quotient: Poly = new Map();
      const rest: Poly = new Map();
      for (const [key, c] of num) {
        const reduced = removeAtoms(key, dKey);
        if (reduced === undefined) {
          rest.set(key, c);
          continue;
        }
        const q = Math.floor(c / dCoef);
        const r = c - q * dCoef;
        if (q !== 0) quotient.set(reduced, q);
        if (r !== 0) rest.set(key, r);
      }
      if (rest.size === 0) return quotient;
      // A constant remainder below the divisor adds nothing: 0 <= r < k.
      if (dKey === '' && rest.size === 1 && rest.has('')) return quotient;
      return add(quotient, floorAtom(rest, den));
    }
  }
  if (printPoly(num) === printPoly(den)) return new Map([['', 1]]);
  return floorAtom(num, den);
}

/** What each floor atom divides, so substitution can reach inside it. */
const floorParts = new Map<string, { num: Poly; den: Poly }>();

function floorAtom(num: Poly, den: Poly): Poly {
  const n = num.size > 1 ? `(${printPoly(num)})` : printPoly(num);
  const d = den.size === 1 && (isSingleAtom(den) || den.has('')) ? printPoly(den) : `(${printPoly(den)})`;
  const atom = `floor(${n}/${d})`;
  floorParts.set(atom, { num, den });
  return new Map([[atom, 1]]);
}

// ---- the Dim API --------------------------------------------------------------------------------------------------

function lift(f: (a: Poly, b: Poly) => Poly): (a: Dim, b: Dim) => Dim {
  return (a, b) => (a === undefined || b === undefined ? undefined : dimOf(f(polyOf(a), polyOf(b))));
}

export const addDims = lift(add);
export const subDims = lift((a, b) => add(a, scale(b, -1)));
export const mulDims = lift(mul);

/** floor(a / b); undefined for a zero or unknown divisor. */
export function floorDivDims(a: Dim, b: Dim): Dim {
  if (a === undefined || b === undefined || b === 0) return undefined;
  if (typeof a === 'number' && typeof b === 'number') return Math.floor(a / b);
  return dimOf(floorDivPoly(polyOf(a), polyOf(b)));
}

/** ceil(a / b) for a positive divisor. */
export function ceilDivDims(a: Dim, b: number): Dim {
  return floorDivDims(addDims(a, b - 1), b);
}

export function productOfDims(dims: readonly Dim[]): Dim {
  let p: Dim = 1;
  for (const d of dims) p = mulDims(p, d);
  return p;
}

/** The dim as a canonical name or number (a parsed '2*h' and a derived 'h*2' become the same). */
export function canonicalDim(d: Dim): Dim {
  return d === undefined ? undefined : dimOf(polyOf(d));
}

export function sameDim(a: Dim, b: Dim): boolean {
  return a !== undefined && b !== undefined && canonicalDim(a) === canonicalDim(b);
}

/**
 * True, false, or undefined when unknown: whether a dim can equal the number n. Atoms are non-negative, so a
 * polynomial with non-negative coefficients never equals a negative number.
 */
export function dimEquals(d: Dim, n: number): boolean | undefined {
  if (d === undefined) return undefined;
  if (typeof d === 'number') return d === n;
  const p = polyOf(d);
  if (n < 0 && [...p.values()].every((c) => c >= 0)) return false;
  return undefined;
}

/** Replaces atoms named in `values` by numbers; the result is a number when nothing symbolic is left. */
export function substituteDim(d: Dim, values: Readonly<Record<string, number>>): Dim {
  if (typeof d !== 'string') return d;
  if (Object.hasOwn(values, d)) return values[d];
  const p = polyOf(d);
  const out = substitutePoly(p, values);
  return out === p ? d : dimOf(out);
}

/** `p` itself when no atom changes. */
function substitutePoly(p: Poly, values: Readonly<Record<string, number>>): Poly {
  let out: Poly = new Map();
  let changed = false;
  for (const [key, c] of p) {
    let term: Poly = new Map([['', c]]);
    for (const atom of key === '' ? [] : key.split('*')) {
      const parts = floorParts.get(atom);
      let factor: Poly = new Map([[atom, 1]]);
      if (Object.hasOwn(values, atom)) factor = polyOf(values[atom]!);
      else if (parts) {
        const num = substitutePoly(parts.num, values);
        const den = substitutePoly(parts.den, values);
        if (num !== parts.num || den !== parts.den) factor = floorDivPoly(num, den);
      }
      if (factor.size !== 1 || !factor.has(atom)) changed = true;
      term = mul(term, factor);
    }
    out = add(out, term);
  }
  return changed ? out : p;
}
