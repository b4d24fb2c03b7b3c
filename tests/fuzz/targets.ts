/**
 * What the fuzzer runs on each input. A target gets the model file (external data beside it) and must either
 * succeed or throw an SdxlOptError; anything else is a crash. `--target all` runs every listed target in order;
 * adding one (type inference, inspect) is one line here.
 */
import { readModel } from '../../src/io/read.js';
import { topologicalOrder } from '../../src/ir/graph.js';

export interface FuzzTarget {
  name: string;
  run(modelFile: string, index: number): Promise<void>;
  /** Harness self-tests, left out of `all`. */
  canary?: boolean;
}

/** An invariant the reader broke without saying so: a crash, not an SdxlOptError. */
class ReaderInvariantBroken extends Error {
  override readonly name = 'ReaderInvariantBroken';
}

/** readModel (decode + IR) and a topological sort; then every initializer's bytes streamed and counted. */
async function readTarget(file: string, index: number): Promise<void> {
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
  // { name: 'infer', run: async (file) => void inferTypes(await readModel(file)) },
  // { name: 'inspect', run: async (file) => void (await inspect(file)) },

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
