/**
 * Deciding the float type every node runs in, before anything changes. The rules, in order:
 *
 * 1. Only float32 is converted. A node whose float data is not float32 (shape arithmetic in int64, a node already in
 *    float16) is left as it is, and so is an operator the signature table does not know, a node with subgraphs,
 *    and a Cast this pass made earlier.
 * 2. A node the caller blocks (by name or op type), and every node reading or producing a value the overflow probe
 *    flagged, avoids float16 (in bfloat16 mode it may still run in bfloat16, whose range is float32's).
 * 3. With `keepSinCosFp32`, Sin and Cos and the elementwise chain computing their argument from a graph input (the
 *    timestep embedding: a phase of up to ~1000 radians, which float16 rounds by up to 0.25) stay float32.
 * 4. Arithmetic on values that do not depend on the model's inputs (shape arithmetic in float: Sqrt of a head size)
 *    stays float32: it is tiny, and float16 would round the integers it stands for.
 * 5. Data movement (Reshape, Transpose, Concat...) runs in the type its data arrives in.
 * 6. Everything else runs in the first of [to, float16 (when to is bfloat16), float32] that its schema accepts at the
 *    model's opset and that has an ONNX Runtime kernel on the target (src/ort/kernels.ts).
 * 7. A Cast to float32 (from the model) becomes a Cast to what all of its readers need, when they agree.
 * 8. Constants (initializers, Constant and ConstantOfShape nodes) take the type their readers need, one copy per
 *    type when readers disagree; data movement over constants only (Identity of a weight) does the same.
 */
import { inputRole, outputRole, signatureOf, type Role, type Signature } from './signatures.js';
import { hasKernel, type Provider } from '../ort/kernels.js';
import { topologicalOrder, type Graph } from '../ir/graph.js';
import { PASS_STAMP_KEY, type Node } from '../ir/node.js';
import type { Value } from '../ir/value.js';
import { DataType, isFloatType } from '../onnx/dtype.js';

export const CAST_PASS_NAME = 'cast';

export interface PlanOptions {
  to: typeof DataType.FLOAT16 | typeof DataType.BFLOAT16;
  provider: Provider;
  /** The opset a domain is imported at ('' for ONNX). */
  opset(domain: string): number;
  /** Graph inputs and outputs keep float32. */
  keepIoTypes: boolean;
  /** Why a node must stay float32 (blocked by the caller), or undefined. */
  blocked(node: Node): string | undefined;
  /** Values too large for float16 (from the overflow probe). */
  overflowing: ReadonlySet<Value>;
  keepSinCosFp32: boolean;
}

/** Why a node ended in the type it did, for the report. */
export type Reason =
  | 'preferred' // the requested type
  | 'fallback' // float16 in a bfloat16 model: no bfloat16 kernel or schema
  | 'no_kernel' // float32: no kernel or schema in a narrow type
  | 'blocked'
  | 'overflow'
  | 'sin_cos'
  | 'static'
  | 'follows'; // data movement in the type its data arrives in

export interface NodePlan {
  type: DataType;
  reason: Reason;
}

export interface PrecisionPlan {
  /** Nodes whose float data gets a type (absent: left exactly as they are). */
  nodes: Map<Node, NodePlan>;
  /** Each value's type after the pass, for the values the plan types (node outputs, graph inputs). */
  types: Map<Value, DataType>;
  /** What each reader slot needs: `${input index}` of a node → type; absent: takes what comes. */
  demand(node: Node, index: number): DataType | undefined;
  /** What a graph output needs. */
  outputDemand(value: Value): DataType | undefined;
  /** The type a value had before the pass. */
  original(value: Value): DataType | undefined;
  /** Pre-existing Casts to float32 that become Casts to another type. */
  retargetedCasts: Map<Node, DataType>;
}

const FLOAT = DataType.FLOAT;

/** Ops through which a Sin/Cos argument is computed from the timestep (rule 3). */
const PHASE_CHAIN_OPS = new Set([
  'Mul', 'Add', 'Sub', 'Div', 'Neg', 'Cast', 'Unsqueeze', 'Squeeze', 'Reshape', 'Expand', 'Concat', 'Slice', 'Gather',
  'Transpose', 'Identity', 'Where', 'Exp', 'Flatten',
]);

function isIntegerOrBool(dtype: number): boolean {
  return dtype !== FLOAT && dtype !== DataType.FLOAT16 && dtype !== DataType.BFLOAT16 && dtype !== DataType.DOUBLE;
}

function castSignature(node: Node): Signature {
  const to = node.attrInt('to', 0);
  // A Cast to an integer reads its float input at full precision: keep it. A Cast to a float type takes any input.
  return { kind: 'compute', inputs: [isIntegerOrBool(to) ? 'keep' : 'any'], outputs: [to === FLOAT ? 'T' : 'keep'] };
}

function isConstantSource(node: Node): boolean {
  return (node.is('Constant') || node.is('ConstantOfShape')) && node.outputs.length === 1;
}

export function planPrecision(graph: Graph, options: PlanOptions): PrecisionPlan {
  const order = topologicalOrder(graph);
  const original = new Map<Value, DataType | undefined>();
  const snapshot = (v: Value) => {
    if (!original.has(v)) original.set(v, v.type?.dtype);
  };
  graph.inputs.forEach(snapshot);
  graph.initializers().forEach(snapshot);
  for (const node of order) {
    node.inputs.forEach((v) => v && snapshot(v));
    node.outputs.forEach(snapshot);
  }
  const originalOf = (v: Value) => original.get(v) ?? v.type?.dtype;

  const sigs = new Map<Node, Signature | undefined>();
  for (const node of order) sigs.set(node, signatureFor(node));
  /** A 'T' slot holding something other than a float (Pow's integer exponent) keeps its type. */
  const roleOf = (node: Node, index: number): Role => {
    const sig = sigs.get(node)!;
    const role = inputRole(sig, index);
    const v = node.input(index);
    return role === 'T' && v && !isFloatType(originalOf(v) ?? FLOAT) ? 'keep' : role;
  };

  const dependent = dataDependentValues(graph, order, sigs);
  const sinCos = options.keepSinCosFp32 ? sinCosChains(order, dependent, sigs) : new Set<Node>();

  const nodes = new Map<Node, NodePlan>();
  const types = new Map<Value, DataType>();
  const ioType = options.keepIoTypes ? FLOAT : DataType.FLOAT16;
  for (const input of graph.inputs) {
    const t = originalOf(input);
    if (t === undefined) continue;
    // An input with a default (an initializer) keeps its type, and so does one a subgraph reads.
    types.set(input, t === FLOAT && input.initializer === undefined && !hasSubgraphUse(input) ? ioType : t);
  }
  const typeOf = (v: Value): DataType | undefined => types.get(v) ?? originalOf(v);

  const preference: DataType[] = options.to === DataType.BFLOAT16 ? [DataType.BFLOAT16, DataType.FLOAT16, FLOAT] : [DataType.FLOAT16, FLOAT];
  const deferred: Node[] = []; // data movement over constants only: typed by demand (rule 8)

  for (const node of order) {
    const sig = sigs.get(node);
    if (!sig || sig.kind === 'shape' || isConstantSource(node)) continue;
    const tInputs = node.inputs.filter((v, i): v is Value => v !== undefined && roleOf(node, i) === 'T');
    const tValues = [...tInputs, ...node.outputs.filter((_, i) => outputRole(sig, i) === 'T')];
    if (!tValues.some((v) => originalOf(v) === FLOAT)) continue; // rule 1
    if (tValues.some((v) => originalOf(v) === undefined)) continue; // unknown types: leave the node alone
    const domain = node.domain === 'ai.onnx' ? '' : node.domain;
    const opset = options.opset(domain);
    const runnable = (t: DataType) => hasKernel(node.opType, domain, t, opset, options.provider);

    let reason: Reason = 'preferred';
    let candidates = preference;
    if (options.blocked(node) !== undefined || node.outputs.some(hasSubgraphUse)) {
      candidates = [FLOAT];
      reason = 'blocked';
    } else if (sinCos.has(node)) {
      candidates = [FLOAT];
      reason = 'sin_cos';
    } else if (tValues.some((v) => options.overflowing.has(v))) {
      candidates = preference.filter((t) => t !== DataType.FLOAT16);
      reason = 'overflow';
    }
    const reading = node.inputs.filter((v, i): v is Value => v !== undefined && roleOf(node, i) !== 'keep');
    if (sig.kind === 'move') {
      // Rule 5: the type the data arrives in comes first; over constants only, the readers decide (rule 8).
      const arriving = tInputs.find((v) => dependent.has(v));
      if (!arriving) {
        if (reason === 'preferred') {
          deferred.push(node);
          continue;
        }
      } else {
        const t = typeOf(arriving);
        if (t !== undefined && candidates.includes(t)) {
          candidates = [t, ...candidates.filter((c) => c !== t)];
          if (reason === 'preferred') reason = 'follows';
        }
      }
    } else if (reason === 'preferred' && !reading.some((v) => dependent.has(v))) {
      candidates = [FLOAT]; // rule 4
      reason = 'static';
    }
    let chosen = candidates.find(runnable);
    if (chosen === undefined) {
      chosen = FLOAT; // nothing runs it in a narrow type (maybe nothing runs it at all): leave it in float32
      if (reason === 'preferred') reason = 'no_kernel';
    } else if (reason === 'preferred' && chosen !== options.to) {
      reason = chosen === FLOAT ? 'no_kernel' : 'fallback';
    }
    nodes.set(node, { type: chosen, reason });
    node.outputs.forEach((out, i) => {
      if (outputRole(sig, i) === 'T') types.set(out, chosen!);
    });
  }

  const plan: PrecisionPlan = {
    nodes,
    types,
    original: originalOf,
    retargetedCasts: new Map(),
    demand(node, index) {
      const v = node.input(index);
      if (!v) return undefined;
      if (!sigs.get(node)) return originalOf(v);
      const role = roleOf(node, index);
      if (role === 'any') return undefined;
      const decided = nodes.get(node);
      return role === 'T' && decided ? decided.type : originalOf(v);
    },
    outputDemand(value) {
      const t = originalOf(value);
      return t === FLOAT ? ioType : t;
    },
  };

  // Rule 8 for data movement over constants, last readers first so chains of them resolve.
  for (const node of [...deferred].reverse()) {
    const sig = sigs.get(node)!;
    const wanted = unanimousDemand(node.outputs.filter((_, i) => outputRole(sig, i) === 'T'), plan);
    const domain = node.domain === 'ai.onnx' ? '' : node.domain;
    const t = wanted !== undefined && hasKernel(node.opType, domain, wanted, options.opset(domain), options.provider) ? wanted : FLOAT;
    nodes.set(node, { type: t, reason: 'follows' });
    node.outputs.forEach((out, i) => {
      if (outputRole(sig, i) === 'T') types.set(out, t);
    });
  }

  // Rule 7: Casts to float32 take their readers' type when the readers agree (not those held in float32 by rule 2/3).
  for (const node of order) {
    const decided = nodes.get(node);
    if (!node.is('Cast') || !decided) continue;
    const held = decided.reason === 'blocked' || decided.reason === 'sin_cos' || decided.reason === 'overflow';
    const wanted = held ? undefined : unanimousDemand([node.output(0)], plan);
    if (wanted !== undefined && wanted !== decided.type && hasKernel('Cast', '', wanted, options.opset(''), options.provider)) {
      nodes.set(node, { type: wanted, reason: decided.reason });
      types.set(node.output(0), wanted);
    }
    const final = nodes.get(node)!.type;
    if (final !== FLOAT) plan.retargetedCasts.set(node, final);
  }
  return plan;
}

function signatureFor(node: Node): Signature | undefined {
  if (node.attributes.some((a) => a.g || (a.graphs?.length ?? 0) > 0)) return undefined;
  if (node.is('Cast')) return node.metadata(PASS_STAMP_KEY) === CAST_PASS_NAME ? undefined : castSignature(node);
  return signatureOf(node);
}

function hasSubgraphUse(v: Value): boolean {
  return v.uses().some((u) => u.index < 0);
}

/** The one type every reader of `values` needs, or undefined when they disagree or none needs one. */
function unanimousDemand(values: readonly Value[], plan: PrecisionPlan): DataType | undefined {
  const wanted = new Set<DataType>();
  for (const v of values) {
    for (const use of v.uses()) {
      const t = use.index < 0 ? plan.original(v) : plan.demand(use.node, use.index);
      if (t !== undefined) wanted.add(t);
    }
    if (v.isGraphOutput) {
      const t = plan.outputDemand(v);
      if (t !== undefined) wanted.add(t);
    }
  }
  return wanted.size === 1 ? [...wanted][0] : undefined;
}

/** Values computed from the graph's inputs (not only from constants and shapes). */
function dataDependentValues(graph: Graph, order: readonly Node[], sigs: Map<Node, Signature | undefined>): Set<Value> {
  const dependent = new Set<Value>(graph.inputs.filter((v) => v.initializer === undefined));
  for (const node of order) {
    if (sigs.get(node)?.kind === 'shape') continue; // Shape of data is a shape, not data
    if ([...node.inputs, ...node.implicitInputs].some((v) => v && dependent.has(v))) node.outputs.forEach((o) => dependent.add(o));
  }
  return dependent;
}

/** Sin and Cos nodes on data, and the elementwise chain that computes their argument (rule 3). */
function sinCosChains(order: readonly Node[], dependent: ReadonlySet<Value>, sigs: Map<Node, Signature | undefined>): Set<Node> {
  const chain = new Set<Node>();
  const visit = (node: Node) => {
    if (chain.has(node)) return;
    chain.add(node);
    const sig = sigs.get(node);
    node.inputs.forEach((v, i) => {
      const p = v?.producer;
      if (!v || !p || !dependent.has(v) || (sig && inputRole(sig, i) === 'keep')) return;
      if (PHASE_CHAIN_OPS.has(p.opType) && (p.domain === '' || p.domain === 'ai.onnx') && sigs.get(p)) visit(p);
    });
  };
  for (const node of order) {
    if ((node.is('Sin') || node.is('Cos')) && node.input(0) && dependent.has(node.input(0)!)) visit(node);
  }
  return chain;
}

