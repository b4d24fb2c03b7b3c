/**
 * What the fuzzer runs on each input. A target gets the model file (external data beside it) and must either
 * succeed or throw an SdxlOptError; anything else is a crash. `--target all` runs every listed target in order;
 * adding one (type inference, inspect) is one line here.
 */
import { inspectModel } from '../../src/inspect.js';
import { readModel } from '../../src/io/read.js';
import { topologicalOrder } from '../../src/ir/graph.js';
import { inferTypes } from '../../src/ir/infer/index.js';
import type { Model } from '../../src/ir/model.js';

/** One input as the targets see it: the file, its index, and the model read once and shared by the targets after the reader. */
export interface TargetInput {
  file: string;
  index: number;
  model(): Promise<Model>;
}

export interface FuzzTarget {
  name: string;
  run(input: TargetInput): Promise<void>;
  /** Harness self-tests, left out of `all`. */
  canary?: boolean;
}

/** Dims a user would give `inspect` for an SDXL UNet (names other models lack are ignored). */
const INSPECT_DIMS = { batch: 2, height: 16, width: 16, sequence: 77 };

/** An invariant the reader broke without saying so: a crash, not an SdxlOptError. */
class ReaderInvariantBroken extends Error {
  override readonly name = 'ReaderInvariantBroken';
}

/**
 * readModel (decode + IR; odd inputs with requireData) and a topological sort; then every initializer's bytes
 * streamed and counted.
 */
async function readTarget({ file, index }: TargetInput): Promise<void> {
  const model = await readModel(file, { requireData: index % 2 === 1 });
  topologicalOrder(model.graph);
  for (const v of model.graph.initializers()) {
    const t = v.initializer!;
    let seen = 0;
    for await (const chunk of t.data.chunks(1 << 20)) seen += chunk.byteLength;
    if (seen !== t.byteLength) throw new ReaderInvariantBroken(`initializer '${v.name}' yielded ${seen} bytes, declared ${t.byteLength}`);
  }
}

/** Keeps canary-alloc's buffer alive until the worker measures it (a collected buffer would go unseen). */
let canaryHeld: Uint8Array | undefined;

export const TARGETS: readonly FuzzTarget[] = [
  { name: 'reader', run: readTarget },
  { name: 'infer', run: async (input) => void inferTypes((await input.model()).graph) },
  { name: 'inspect', run: async (input) => void inspectModel(await input.model(), { dims: INSPECT_DIMS }) },

  { name: 'canary-crash', canary: true, run: async () => void (null as unknown as { x: number }).x },
  { name: 'canary-hang', canary: true, run: async () => { for (;;); } },
  { name: 'canary-oom', canary: true, run: async () => { const keep: number[][] = []; for (;;) keep.push(new Array<number>(1 << 20).fill(keep.length + 0.5)); } },
  { name: 'canary-alloc', canary: true, run: async () => void (canaryHeld = new Uint8Array(1024 * 1024 * 1024)) },
];

/** Targets named by a `--target` value: one name, a comma list, or 'all' (every target but the canaries). */
export function selectTargets(spec: string): FuzzTarget[] {
  if (spec === 'all') return TARGETS.filter((t) => !t.canary);
  return spec.split(',').map((name) => {
    const t = TARGETS.find((x) => x.name === name.trim());
    if (!t) throw new Error(`unknown fuzz target '${name}'; known: all, ${TARGETS.map((x) => x.name).join(', ')}`);
    return t;
  });
}
