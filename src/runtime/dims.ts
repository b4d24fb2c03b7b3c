/**
 * Sizes for a model's symbolic dimensions. A dim is looked up as `<input>.<axis>` first (for axes with no name),
 * then by its name, then by the name's alias; names the user gives override the SDXL defaults (the real workload:
 * batch 2 for classifier-free guidance, 128×128 latents for 1024×1024 images, 77 tokens).
 */
import { SdxlOptError } from '../errors.js';
import type { Dim } from '../ir/value.js';

export const SDXL_DEFAULT_DIMS: Readonly<Record<string, number>> = { batch: 2, height: 128, width: 128, sequence: 77 };

/** Other spellings of the default names, as exporters write them (the VAE decoder's h/w, Optimum's *_size). */
const ALIASES: Readonly<Record<string, string>> = {
  h: 'height',
  w: 'width',
  batch_size: 'batch',
  sequence_length: 'sequence',
  height_latent: 'height',
  width_latent: 'width',
};

/** Whether the model dim `name` takes the size given as `given` (itself, or its alias). */
export function dimMatches(name: string, given: string): boolean {
  return name === given || ALIASES[name] === given;
}

/**
 * `dims` spelled the way a model names its dims: each given size also under every alias `names` uses (a recipe's
 * `batch: 1` fixes an Optimum export's `batch_size`, `height: 128` a VAE decoder's `h` or `height_latent`).
 */
export function dimsInModelNames(dims: Readonly<Record<string, number>>, names: Iterable<string>): Record<string, number> {
  const out: Record<string, number> = { ...dims };
  for (const name of names) {
    const canonical = ALIASES[name];
    if (!Object.hasOwn(out, name) && canonical !== undefined && Object.hasOwn(dims, canonical)) out[name] = dims[canonical]!;
  }
  return out;
}

export class DimResolver {
  private readonly table: Record<string, number>;
  private readonly given: Set<string>;
  private readonly usedKeys = new Set<string>();
  /** The named sizes actually used, for reports. */
  readonly used: Record<string, number> = {};

  constructor(given: Record<string, number> = {}) {
    for (const [name, size] of Object.entries(given)) {
      if (!Number.isSafeInteger(size) || size < 1) {
        throw new SdxlOptError('BAD_PARAM', `dim '${name}' must be a positive integer, got ${size}`, { hint: 'e.g. --dims batch=2,height=128' });
      }
    }
    this.table = { ...SDXL_DEFAULT_DIMS, ...given };
    this.given = new Set(Object.keys(given));
  }

  /** Given names that no input used: almost always a typo, which would otherwise silently fall back to a default. */
  unusedGiven(): string[] {
    return [...this.given].filter((k) => !this.usedKeys.has(k));
  }

  /** The concrete shape of `input`, or an error naming the input and the dim nobody gave a size for. */
  shapeOf(input: string, shape: readonly Dim[] | undefined, where: string): number[] {
    if (shape === undefined) {
      throw new SdxlOptError('UNSUPPORTED', `input '${input}' has no declared shape (not even its rank)`, {
        where,
        hint: 're-export the model with input shapes, or fix them with onnx.tools.update_model_dims',
      });
    }
    return shape.map((dim, axis) => this.resolve(input, axis, dim, where));
  }

  private resolve(input: string, axis: number, dim: Dim, where: string): number {
    const byAxis = this.lookup(`${input}.${axis}`);
    if (byAxis !== undefined) return byAxis;
    if (typeof dim === 'number') return dim;
    if (dim !== undefined) {
      const alias = ALIASES[dim];
      const size = this.lookup(dim) ?? (alias === undefined ? undefined : this.lookup(alias));
      if (size !== undefined) {
        this.used[dim] = size;
        return size;
      }
      throw new SdxlOptError('BAD_PARAM', `input '${input}' has a dimension named '${dim}' (axis ${axis}) and no size was given for it`, {
        where,
        hint: `pass --dims ${dim}=N`,
      });
    }
    throw new SdxlOptError('BAD_PARAM', `axis ${axis} of input '${input}' has neither a size nor a name`, {
      where,
      hint: `pass --dims ${input}.${axis}=N`,
    });
  }

  private lookup(key: string): number | undefined {
    if (!Object.hasOwn(this.table, key)) return undefined;
    this.usedKeys.add(key);
    return this.table[key];
  }
}

/** Parses `batch=2,height=64` (the CLI's --dims) into sizes. */
export function parseDims(text: string): Record<string, number> {
  const dims: Record<string, number> = {};
  for (const part of text.split(',').map((p) => p.trim()).filter(Boolean)) {
    const m = /^([^=\s]+)\s*=\s*(\d+)$/.exec(part);
    if (!m) {
      throw new SdxlOptError('BAD_PARAM', `cannot read '${part}' in --dims`, { hint: 'write name=size pairs separated by commas, e.g. batch=1,height=64' });
    }
    dims[m[1]!] = Number(m[2]);
  }
  return dims;
}
