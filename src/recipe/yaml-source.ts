/**
 * A parsed YAML document that remembers where everything came from, so that every recipe error can point at
 * `recipe.yaml:LINE:COL`. Wraps eemeli/yaml's document model; aliases are resolved here, after the whole document
 * has been checked against alias bombs.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode, type Pair, type YAMLMap, type YAMLSeq } from 'yaml';
import { SdxlOptError } from '../errors.js';
import { didYouMean } from './suggest.js';

/** Aliases a recipe may expand: enough to share a block of params, far too few for a billion-laughs expansion. */
export const MAX_ALIAS_COUNT = 100;

export type Located = YamlNode | null | undefined;

export class YamlSource {
  private readonly lines = new LineCounter();
  readonly doc: Document.Parsed;

  constructor(
    readonly text: string,
    /** The file as the user named it: messages show this. */
    readonly file: string,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, prettyErrors: false, uniqueKeys: true, strict: true });
    const first = this.doc.errors[0];
    if (first) {
      throw new SdxlOptError('BAD_RECIPE', `not valid YAML: ${first.message.split('\n')[0]}`, {
        where: this.at(first.pos[0]),
        hint: 'fix the YAML syntax (indentation, colons, quotes)',
      });
    }
    try {
      this.doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
    } catch (e) {
      throw new SdxlOptError('BAD_RECIPE', `the recipe expands its YAML aliases too far (${e instanceof Error ? e.message : String(e)})`, {
        where: this.at(0),
        hint: `a recipe may expand at most ${MAX_ALIAS_COUNT} aliases; write the repeated parts out`,
      });
    }
  }

  get root(): Located {
    return this.doc.contents;
  }

  /** `file:line:col` of an offset or a node (1-based). */
  at(where: number | Located): string {
    const offset = typeof where === 'number' ? where : (where?.range?.[0] ?? 0);
    const { line, col } = this.lines.linePos(offset);
    return `${this.file}:${line}:${col}`;
  }

  fail(where: number | Located, message: string, hint?: string): never {
    throw new SdxlOptError('BAD_RECIPE', message, { where: this.at(where), hint });
  }

  /** The node an alias stands for; other nodes as they are. */
  resolve(node: Located): Located {
    if (isAlias(node)) return node.resolve(this.doc) as YamlNode | undefined;
    return node;
  }

  // ---- typed readers: each checks the node's kind and fails at its place with what was expected -----------------

  mapping(node: Located, what: string, place: Located = node): YAMLMap<unknown, unknown> {
    const n = this.resolve(node);
    if (!isMap(n)) this.fail(n ?? place, `${what} must be a mapping (key: value lines), not ${describeNode(n)}`);
    return n;
  }

  sequence(node: Located, what: string, place: Located = node): YAMLSeq<unknown> {
    const n = this.resolve(node);
    if (!isSeq(n)) this.fail(n ?? place, `${what} must be a list ('- item' lines or [a, b]), not ${describeNode(n)}`);
    return n;
  }

  string(node: Located, what: string, place: Located = node): string {
    const n = this.resolve(node);
    if (!isScalar(n) || typeof n.value !== 'string' || n.value === '') this.fail(n ?? place, `${what} must be a non-empty string, not ${describeNode(n)}`);
    return n.value as string;
  }

  oneOf<T extends string>(node: Located, what: string, choices: readonly T[], place: Located = node): T {
    const value = this.string(node, what, place);
    if (!choices.includes(value as T)) {
      this.fail(this.resolve(node) ?? place, `${what} must be one of ${choices.map((c) => `'${c}'`).join(', ')}, not '${value}'`, didYouMean(value, choices));
    }
    return value as T;
  }

  number(node: Located, what: string, range: { integer?: boolean; min?: number; max?: number } = {}, place: Located = node): number {
    const n = this.resolve(node);
    const kind = range.integer ? 'an integer' : 'a number';
    const bounds = describeBounds(range.min, range.max);
    if (!isScalar(n) || typeof n.value !== 'number' || !Number.isFinite(n.value) || (range.integer && !Number.isInteger(n.value))) {
      this.fail(n ?? place, `${what} must be ${kind}${bounds}, not ${describeNode(n)}`);
    }
    const value = n.value as number;
    if ((range.min !== undefined && value < range.min) || (range.max !== undefined && value > range.max)) {
      this.fail(n, `${what} must be ${kind}${bounds}, not ${value}`);
    }
    return value;
  }

  boolean(node: Located, what: string, place: Located = node): boolean {
    const n = this.resolve(node);
    if (!isScalar(n) || typeof n.value !== 'boolean') this.fail(n ?? place, `${what} must be true or false, not ${describeNode(n)}`);
    return n.value as boolean;
  }

  /** The string keys of a mapping with their pairs; fails on a key that is not a plain string. */
  entries(map: YAMLMap<unknown, unknown>, what: string): [string, Pair<unknown, unknown>][] {
    return map.items.map((pair) => {
      const key = pair.key as Located;
      if (!isScalar(key) || typeof key.value !== 'string') this.fail(key ?? map, `the keys of ${what} must be names, not ${describeNode(key)}`);
      return [key.value as string, pair];
    });
  }

  /** Fails on a key not in `known`, suggesting the nearest one. */
  onlyKeys(map: YAMLMap<unknown, unknown>, what: string, known: readonly string[]): Map<string, Pair<unknown, unknown>> {
    const out = new Map<string, Pair<unknown, unknown>>();
    for (const [key, pair] of this.entries(map, what)) {
      if (!known.includes(key)) {
        const suggestion = didYouMean(key, known);
        this.fail(pair.key as Located, `unknown key '${key}' in ${what}`, `${suggestion ? `${suggestion} ` : ''}known keys: ${known.join(', ')}`.trim());
      }
      out.set(key, pair);
    }
    return out;
  }
}

/** True for a key with nothing after it (`passes:`), which YAML reads as null. */
export function isEmpty(node: Located): boolean {
  return node === null || node === undefined || (isScalar(node) && node.value === null);
}

/** `node` as a value of a pair, for readers: the pair's value (or the pair's key, for placing a message). */
export function valueOf(pair: Pair<unknown, unknown> | undefined): Located {
  return pair?.value as Located;
}

export function keyOf(pair: Pair<unknown, unknown> | undefined): Located {
  return pair?.key as Located;
}

/** What a node is, for "must be X, not Y" messages. */
export function describeNode(n: Located): string {
  if (n === null || n === undefined) return 'nothing';
  if (isMap(n)) return 'a mapping';
  if (isSeq(n)) return 'a list';
  if (isScalar(n)) {
    if (n.value === null) return 'nothing';
    if (typeof n.value === 'string') return `the string '${n.value.length > 40 ? `${n.value.slice(0, 40)}...` : n.value}'`;
    if (typeof n.value === 'number') return `the number ${n.value}`;
    if (typeof n.value === 'boolean') return `${n.value}`;
  }
  return 'something else';
}

export function describeBounds(min: number | undefined, max: number | undefined): string {
  if (min !== undefined && max !== undefined) return ` from ${min} to ${max}`;
  if (min !== undefined) return ` of at least ${min}`;
  if (max !== undefined) return ` of at most ${max}`;
  return '';
}
