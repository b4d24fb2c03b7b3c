/**
 * constant-folding: computes at optimization time what the model would compute the same way on every run.
 *
 * Rules:
 * 1. A Constant node becomes an initializer of the same name (string, sparse and external constants stay nodes).
 * 2. A node whose inputs are all constants is evaluated (src/eval) and replaced by an initializer, when its result
 *    is at most `max_bytes`; constants are read only when already in memory and at most `max_bytes` each, so
 *    external weights are never read.
 * 3. Shape (and Size) of a value whose dims are known is a constant. Dims come from shape inference (inferTypes,
 *    run first, with the dims the recipe fixes: batch, height...), except for a value whose recorded type inference
 *    contradicts. A shape known only in part still folds what is picked from its known part (Gather(Shape(x), 1)
 *    when x's dim 1 is known), through the ops of shape chains (src/eval/partial.ts).
 * 4. An Identity of a constant is bypassed, not copied.
 * 5. Nodes left without readers are not removed here (dead-code-elimination does that), except the folded ones.
 */
import { definePass, unchanged, type PassContext, type PassResult } from '../src/engine/pass.js';
import { canEvaluate, evaluateNode, hostToTensor, type EvalContext, type HostTensor } from '../src/eval/index.js';
import { completed, evaluatePartial, isPartial, shapeKnowledge, type Knowledge } from '../src/eval/partial.js';
import { inferTypes } from '../src/ir/infer/index.js';
import type { Node } from '../src/ir/node.js';
import type { Dim, Value } from '../src/ir/value.js';
import { DataType } from '../src/onnx/dtype.js';
import { constantNodeTensor } from './lib/constant-node.js';
import { constantElements } from './lib/constants.js';
import { bypass, replaceWithInitializer } from './lib/rewire.js';

export interface ConstantFoldingParams {
  max_bytes: number;
}

export const constantFolding = definePass<ConstantFoldingParams>({
  name: 'constant-folding',
  description: 'Constant nodes become initializers; nodes whose inputs are all constant, and shapes known statically, are computed and replaced by initializers.',
  params: {
    max_bytes: {
      type: 'integer',
      minimum: 0,
      description: 'Largest folded result (and largest constant read), in bytes: bigger results stay computed at run time.',
      default: 1024 * 1024,
    },
  },
  run(ctx, params) {
    // Shapes first: folding a Shape needs its input's dims, which earlier folds may have just made known.
    const inference = inferTypes(ctx.graph, { dims: ctx.dims });
    // A value whose recorded type inference contradicts has no dims to trust: its Shape is not folded.
    const disputed = new Set(inference.issues.flatMap((i) => (i.kind === 'contradiction' && i.value ? [i.value] : [])));
    if (inference.issues.length) ctx.log(`constant-folding: shape inference reported ${inference.issues.length} issues, first: ${inference.issues[0]!.node}: ${inference.issues[0]!.message}`);
    return new Folder(ctx, params.max_bytes, disputed).run();
  },
});

class Folder {
  private readonly known = new Map<Value, Knowledge>();
  private readonly refusals = new Map<string, number>();
  private readonly counts = { constants: 0, folded: 0, shapes: 0, bypassed: 0 };

  constructor(
    private readonly ctx: PassContext,
    private readonly maxBytes: number,
    private readonly disputed: ReadonlySet<string>,
  ) {}

  run(): PassResult {
    const graph = this.ctx.graph;
    const total = graph.nodeCount;
    let done = 0;
    for (const node of graph) {
      if (++done % 4096 === 0) this.ctx.progress(done, total, 'nodes');
      if (node.graph !== graph) continue;
      this.visit(node);
    }
    const { constants, folded, shapes, bypassed } = this.counts;
    const changed = constants + folded + shapes + bypassed;
    const reasons = [...this.refusals].sort((a, b) => b[1] - a[1]).slice(0, 5).map(([why, n]) => `${n}× ${why}`);
    if (!changed) return unchanged('nothing to fold', reasons.length ? reasons : ['no Constant nodes and no node with only constant inputs']);
    return {
      changed: true,
      counts: { ...this.counts },
      summary: `${constants} Constant nodes to initializers, ${folded} nodes folded, ${shapes} shape values folded, ${bypassed} Identity of constants bypassed`,
      reasons,
    };
  }

  private visit(node: Node): void {
    if (!node.is('Constant') && !canEvaluate(node) && !node.is('Shape') && !node.is('Size')) return;
    if (node.is('Constant')) return this.constantToInitializer(node);
    if (node.is('Shape') || node.is('Size')) return this.foldShape(node);
    const evalCtx: EvalContext = { node, opset: this.ctx.model.opset, maxBytes: this.maxBytes };
    const inputs = node.inputs.map((v) => this.knowledgeOf(v));
    const missing = node.inputs.some((v, i) => v !== undefined && inputs[i] === undefined);
    if (!missing && !inputs.some(isPartial)) {
      if (node.is('Identity')) {
        if (bypass(this.ctx.graph, node.output(), node.input(0)!)) {
          this.ctx.graph.remove(node);
          this.counts.bypassed++;
        }
        return;
      }
      const outcome = evaluateNode(inputs as (HostTensor | undefined)[], evalCtx);
      if ('refused' in outcome) return this.refused(outcome.refused);
      this.replace(node, outcome.outputs, 'folded');
      return;
    }
    // Some input is a shape known in part, or not known at all: follow what is known.
    const partial = evaluatePartial(inputs, evalCtx);
    if (!partial) return;
    const whole = completed(partial);
    if (whole) this.replace(node, [whole], 'shapes');
    else this.known.set(node.output(), partial);
  }

  private constantToInitializer(node: Node): void {
    const out = node.output();
    const tensor = constantNodeTensor(node, out.name);
    if ('refused' in tensor) return this.refused(tensor.refused);
    if (replaceWithInitializer(this.ctx.graph, out, tensor)) this.counts.constants++;
    else this.refused('a graph output read inside a subgraph keeps its node');
  }

  private foldShape(node: Node): void {
    const x = node.input(0);
    if (x && this.disputed.has(x.name)) return this.refused(`the type of '${x.name}' is disputed by shape inference`);
    const dims = x && this.dimsOf(x);
    if (!dims) return;
    if (node.is('Size')) {
      if (dims.every((d): d is number => typeof d === 'number')) {
        this.replace(node, [{ dtype: DataType.INT64, dims: [], data: BigInt64Array.of(BigInt(dims.reduce((a, b) => a * b, 1))) }], 'shapes');
      }
      return;
    }
    const shape = shapeKnowledge(dims, node.attrInt('start', 0), node.attrInt('end') ?? dims.length);
    const whole = completed(shape);
    if (whole) this.replace(node, [whole], 'shapes');
    else this.known.set(node.output(), shape);
  }

  /** A value's dims, with the recipe's fixed dims substituted for their names (an overridable initializer has none). */
  private dimsOf(value: Value): Dim[] | undefined {
    if (value.initializer && !value.isConstant) return undefined;
    const shape = value.initializer ? [...value.initializer.dims] : value.type?.shape;
    return shape?.map((d) => (typeof d === 'string' && this.ctx.dims[d] !== undefined ? this.ctx.dims[d] : d));
  }

  private knowledgeOf(value: Value | undefined): Knowledge | undefined {
    if (!value) return undefined;
    const cached = this.known.get(value);
    if (cached) return cached;
    const elements = constantElements(value, this.maxBytes);
    if (elements) this.known.set(value, elements);
    return elements;
  }

  private replace(node: Node, outputs: readonly HostTensor[], kind: 'folded' | 'shapes'): void {
    const values = node.outputs;
    if (outputs.length !== values.length) return this.refused(`${node.opType} gave ${outputs.length} results for ${values.length} outputs`);
    let replaced = 0;
    outputs.forEach((h, i) => {
      const init = replaceWithInitializer(this.ctx.graph, values[i]!, hostToTensor(h));
      if (!init) return;
      this.known.set(init, h);
      replaced++;
    });
    if (replaced) this.counts[kind]++;
    else this.refused('a graph output read inside a subgraph keeps its node');
  }

  private refused(reason: string): void {
    this.refusals.set(reason, (this.refusals.get(reason) ?? 0) + 1);
  }
}
