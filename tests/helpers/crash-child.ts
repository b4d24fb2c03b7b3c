/**
 * A child process for tests/crash-safety.test.ts, stopped half-way through a write at a moment the test knows.
 *
 *   node crash-child.js apply <recipe.yaml>        apply, with the CLI's signal handling; the pass `stall-write`
 *                                                  makes the model's write stall half-way
 *   node crash-child.js write <model.onnx> <dest>   read a model and write it to dest, stalling half-way
 *
 * When the write stalls, the child prints `mid-write` on stdout and waits for the test to kill or interrupt it.
 * Without the pass in the recipe, `apply` runs to the end like the CLI.
 */
import { applyRecipe } from '../../src/apply/apply.js';
import { installSignalCleanup } from '../../src/cli/signals.js';
import { definePass } from '../../src/engine/pass.js';
import { readModel } from '../../src/io/read.js';
import { writeModel } from '../../src/io/write.js';
import type { Graph } from '../../src/ir/graph.js';
import { Tensor, type TensorData } from '../../src/ir/tensor.js';
import { PASSES } from '../../passes/index.js';

/** Yields the first half of its source's bytes, then announces `mid-write` and never yields again. */
class StallingData implements TensorData {
  constructor(private readonly source: TensorData) {}
  get byteLength(): number {
    return this.source.byteLength;
  }
  describe(): string {
    return `stalling ${this.source.describe()}`;
  }
  async *chunks(): AsyncIterable<Uint8Array> {
    const half = Math.max(8, Math.floor(this.source.byteLength / 16) * 8);
    for await (const chunk of this.source.chunks(half)) {
      yield chunk;
      break;
    }
    // The writer asks for the next chunk only once the first is handed to the file: the temporary file holds it.
    process.stdout.write('mid-write\n');
    await new Promise<never>(() => setInterval(() => undefined, 60_000));
  }
}

/** Makes the largest weight stall when written. */
function stallLargestWeight(graph: Graph): void {
  const largest = graph.initializers().reduce((a, b) => (b.initializer!.byteLength > a.initializer!.byteLength ? b : a));
  const t = largest.initializer!;
  largest.initializer = new Tensor(t.dtype, t.dims, new StallingData(t.data));
}

const stallWrite = definePass({
  name: 'stall-write',
  description: 'Makes the write of the largest weight stall half-way (a test pass).',
  params: {},
  run(ctx) {
    stallLargestWeight(ctx.graph);
    return { changed: true, counts: {}, summary: 'the largest weight will stall when written' };
  },
});

installSignalCleanup();
const [mode, a, b] = process.argv.slice(2);
if (mode === 'apply') {
  const result = await applyRecipe(a!, { registry: [...PASSES, stallWrite] });
  process.exitCode = result.exitCode;
} else if (mode === 'write') {
  const model = await readModel(a!, { requireData: true });
  stallLargestWeight(model.graph);
  await writeModel(model, b!);
} else {
  throw new Error(`unknown mode '${mode}'`);
}
