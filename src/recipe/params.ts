/**
 * Checking a pass's params in a recipe against the schema the pass declared (src/engine/pass.ts ParamSchema): each
 * value is read from the YAML node, so a wrong type, a value out of range or an unknown key fails at its own
 * line:column, saying what was expected.
 */
import { isMap, isScalar, isSeq } from 'yaml';
import type { ParamSchema, ParamSchemaItem, PassDefinition } from '../engine/pass.js';
import { didYouMean } from './suggest.js';
import { describeBounds, describeNode, type Located, type YamlSource } from './yaml-source.js';

type Schema = ParamSchema | ParamSchemaItem;

/** Reads one param of `pass` from its node, or fails at the node's place. */
export function readParam(src: YamlSource, node: Located, schema: Schema, what: string): unknown {
  const result = tryRead(src, node, schema, what);
  if (result.ok) return result.value;
  return src.fail(result.at ?? node, result.message, result.hint);
}

/** The params a pass accepts, for "unknown param" messages. */
export function paramNames(pass: PassDefinition<any>): string[] {
  return Object.keys(pass.params as Record<string, unknown>);
}

type Read = { ok: true; value: unknown } | { ok: false; at: Located; message: string; hint?: string };

function tryRead(src: YamlSource, raw: Located, schema: Schema, what: string): Read {
  const node = src.resolve(raw);
  const bad = (message: string, hint?: string, at: Located = node): Read => ({ ok: false, at, message, hint });
  const expected = describeSchema(schema);
  const mismatch = (): Read => bad(`${what} must be ${expected}, not ${describeNode(node)}`);

  if ('const' in schema) {
    return isScalar(node) && node.value === schema.const ? { ok: true, value: schema.const } : mismatch();
  }
  if ('oneOf' in schema) {
    for (const option of schema.oneOf) {
      const r = tryRead(src, node, option, what);
      if (r.ok) return r;
    }
    return mismatch();
  }
  switch (schema.type) {
    case 'boolean':
      return isScalar(node) && typeof node.value === 'boolean' ? { ok: true, value: node.value } : mismatch();
    case 'integer':
    case 'number': {
      const v = isScalar(node) ? node.value : undefined;
      if (typeof v !== 'number' || !Number.isFinite(v) || (schema.type === 'integer' && !Number.isInteger(v))) return mismatch();
      if ((schema.minimum !== undefined && v < schema.minimum) || (schema.maximum !== undefined && v > schema.maximum)) {
        return bad(`${what} must be ${expected}, not ${v}`);
      }
      if ('enum' in schema && schema.enum && !schema.enum.includes(v)) return bad(`${what} must be ${expected}, not ${v}`);
      return { ok: true, value: v };
    }
    case 'string': {
      const v = isScalar(node) ? node.value : undefined;
      if (typeof v !== 'string') return mismatch();
      const choices = 'enum' in schema ? schema.enum : undefined;
      if (choices && !choices.includes(v)) {
        return bad(`${what} must be ${expected}, not '${v}'`, didYouMean(v, choices.map(String)));
      }
      return { ok: true, value: v };
    }
    case 'array': {
      if (!isSeq(node)) return mismatch();
      const min = schema.minItems;
      const max = 'maxItems' in schema ? schema.maxItems : undefined;
      if ((min !== undefined && node.items.length < min) || (max !== undefined && node.items.length > max)) {
        return bad(`${what} must have${describeBounds(min, max)} items, not ${node.items.length}`);
      }
      const out: unknown[] = [];
      for (const [i, item] of node.items.entries()) {
        const r = tryRead(src, item as Located, schema.items, `${what}[${i}]`);
        if (!r.ok) return r;
        out.push(r.value);
      }
      return { ok: true, value: out };
    }
    case 'object': {
      if (!isMap(node)) return mismatch();
      const known = Object.keys(schema.properties);
      const out: Record<string, unknown> = {};
      for (const pair of node.items) {
        const key = pair.key as Located;
        const name = isScalar(key) ? String(key.value) : '';
        const prop = schema.properties[name];
        if (!prop) {
          const suggestion = didYouMean(name, known);
          return bad(`unknown key '${name}' in ${what}`, `${suggestion ? `${suggestion} ` : ''}known keys: ${known.join(', ')}`, key);
        }
        const r = tryRead(src, pair.value as Located, prop, `${what}.${name}`);
        if (!r.ok) return r;
        out[name] = r.value;
      }
      return { ok: true, value: out };
    }
  }
}

/** What a schema accepts, in words: "an integer from 1 to 8", "one of 'float16', 'bfloat16'". */
export function describeSchema(schema: Schema): string {
  if ('const' in schema) return JSON.stringify(schema.const);
  if ('oneOf' in schema) return schema.oneOf.map(describeSchema).join(', or ');
  switch (schema.type) {
    case 'boolean':
      return 'true or false';
    case 'integer':
    case 'number': {
      if ('enum' in schema && schema.enum) return `one of ${schema.enum.join(', ')}`;
      return `${schema.type === 'integer' ? 'an integer' : 'a number'}${describeBounds(schema.minimum, schema.maximum)}`;
    }
    case 'string':
      return 'enum' in schema && schema.enum ? `one of ${schema.enum.map((c) => `'${c}'`).join(', ')}` : 'a string';
    case 'array':
      return `a list of ${plural(describeSchema(schema.items))}`;
    case 'object':
      return `a mapping with keys ${Object.keys(schema.properties).join(', ')}`;
  }
}

function plural(description: string): string {
  return description.replace(/^an? (integer|number|string|list|mapping)/, '$1s').replace(/^true or false$/, 'booleans');
}
