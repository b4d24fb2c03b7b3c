/** Building the IR from decoded protobuf messages, checking what a reader must: names, producers, tensors. */
import { SdxlOptError } from '../errors.js';
import { int64ToNumber } from '../onnx/codec.js';
import { isKnownDataType } from '../onnx/dtype.js';
import type { GraphProto, ModelProto, TensorProto, TypeProto, ValueInfoProto } from '../onnx/types.js';
import { Graph } from './graph.js';
import { Model } from './model.js';
import { Node } from './node.js';
import { has, restOf } from './proto-util.js';
import type { TensorData } from './tensor.js';
import { tensorFromProto } from './tensor-proto.js';
import type { Dim, TensorType, Value } from './value.js';

export interface ReadOptions {
  /** Where the model came from, for messages. */
  source: string;
  /** Supplies the bytes of tensors stored outside the model file. */
  externalData?: (t: TensorProto, byteLength: number, where: string) => TensorData;
}

export function modelFromProto(proto: ModelProto, options: ReadOptions): Model {
  const where = options.source;
  if (!proto.graph) throw new SdxlOptError('BAD_MODEL', 'the model has no graph', { where });
  const irVersion = int64ToNumber(proto.ir_version, 'ir_version', where);
  const opsets = new Map<string, number>();
  for (const o of proto.opset_import ?? []) {
    opsets.set(o.domain ?? '', int64ToNumber(o.version, `opset version of domain '${o.domain ?? ''}'`, where));
  }
  // opset_import follows the graph in the file (field 8 after 7): a file cut just after its graph decodes as a
  // model without operator sets, which ONNX forbids from IR 3 on. Catch that truncation here.
  if (opsets.size === 0 && irVersion >= 3) {
    throw new SdxlOptError('BAD_MODEL', `the model (IR ${irVersion}) imports no operator set`, {
      where,
      hint: 'the file is probably truncated; re-export or re-download it',
    });
  }
  const graph = graphFromProto(proto.graph, options, []);
  const model = new Model(graph, irVersion, opsets);
  model.origin = restOf(proto, ['graph', 'functions']) as ModelProto;
  model.functions = proto.functions ?? [];
  return model;
}

/**
 * TensorType from a TypeProto; undefined for non-tensor types (sequences, maps), which the IR carries as read.
 * `where` names the value it describes, for errors.
 */
export function typeFromProto(t: TypeProto | undefined, where?: string): TensorType | undefined {
  const tt = t?.tensor_type;
  if (!tt || tt.elem_type === undefined || !isKnownDataType(tt.elem_type)) return undefined;
  if (!tt.shape) return { dtype: tt.elem_type };
  const shape: Dim[] = (tt.shape.dim ?? []).map((d) => {
    // protobufjs puts field defaults on the prototype: dim_value reads 0 even where the dim is a dim_param.
    if (has(d, 'dim_value')) {
      const n = int64ToNumber(d.dim_value, 'dim_value', where);
      return n >= 0 ? n : undefined;
    }
    return d.dim_param ? d.dim_param : undefined;
  });
  return { dtype: tt.elem_type, shape };
}

/**
 * Builds a graph. `outer` holds the values visible from enclosing graphs (for subgraphs, which the IR keeps as
 * protos: they are scanned only for the outer values they read).
 */
export function graphFromProto(proto: GraphProto, options: ReadOptions, outer: readonly Map<string, Value>[]): Graph {
  const graphName = proto.name ?? '';
  const graph = new Graph(graphName);
  graph.origin = restOf(proto, ['node', 'initializer', 'input', 'output', 'value_info']) as GraphProto;
  const at = (what: string) => `${options.source}: ${what}`;

  const infos = new Map<string, ValueInfoProto>();
  for (const vi of proto.value_info ?? []) {
    if (vi.name) {
      infos.set(vi.name, vi);
      graph.valueInfoOrder.push(vi.name);
    }
  }

  for (const vi of proto.input ?? []) {
    const v = graph._defineValue(vi.name ?? '', at(`graph input '${vi.name}'`));
    v.originInfo = vi;
    v.type = typeFromProto(vi.type, at(`graph input '${vi.name}'`));
    graph.inputs.push(v);
  }
  const inputs = new Set(graph.inputs);
  for (const [i, t] of (proto.initializer ?? []).entries()) {
    const name = t.name ?? '';
    const where = at(`initializer '${name || `#${i}`}'`);
    if (!name) throw new SdxlOptError('BAD_MODEL', 'an initializer has no name', { where });
    const existing = graph.value(name);
    // IR < 4 lists initializers among the inputs too: the input then has a default value. (A set, not
    // isGraphInput: a scan of the inputs per initializer is quadratic in a model with many of both.)
    const v = existing && inputs.has(existing) && !existing.initializer ? existing : graph._defineValue(name, where);
    v.initializer = tensorFromProto(t, where, options.externalData && ((tp, n) => options.externalData!(tp, n, where)));
    v.type ??= { dtype: v.initializer.dtype, shape: [...v.initializer.dims] };
    graph._registerInitializer(v);
  }
  for (const s of proto.sparse_initializer ?? []) {
    const name = s.values?.name ?? '';
    const v = graph._defineValue(name, at(`sparse initializer '${name}'`));
    v.sparseInitializer = s;
  }

  // Node outputs first (nodes may be listed out of order; that is checked by topological sort, not here).
  const nodes: Node[] = [];
  for (const [i, np] of (proto.node ?? []).entries()) {
    const node = new Node(np.op_type ?? '', np.domain ?? '', np.name ?? '', np.attribute ?? []);
    node.origin = restOf(np, ['input', 'output', 'attribute', 'metadata_props']);
    if (np.metadata_props) node.metadataProps = np.metadata_props;
    const where = at(`node '${np.name || `#${i}`}' (${np.op_type})`);
    const outs: Value[] = [];
    for (const name of np.output ?? []) {
      // An empty output name is an omitted optional output: it still takes a slot.
      const v = graph._defineValue(name === '' ? graph.uniqueValueName(`${np.name || np.op_type}_unused_output`) : name, where);
      v.originInfo = infos.get(name);
      v.type = typeFromProto(v.originInfo?.type, at(`value info '${name}'`));
      outs.push(v);
    }
    node._setOutputs(outs);
    nodes.push(node);
  }
  for (const name of infos.keys()) {
    const v = graph.value(name);
    if (v && !v.originInfo) {
      v.originInfo = infos.get(name);
      v.type ??= typeFromProto(v.originInfo?.type, at(`value info '${name}'`));
    }
  }

  const scopes = [graphScope(graph), ...outer];
  const lookup = (name: string): Value | undefined => {
    for (const s of scopes) {
      const v = s.get(name);
      if (v) return v;
    }
    return undefined;
  };
  for (const [i, np] of (proto.node ?? []).entries()) {
    const node = nodes[i]!;
    const where = at(`node '${np.name || `#${i}`}' (${np.op_type})`);
    node.setInputs(
      (np.input ?? []).map((name) => {
        if (name === '') return undefined;
        const v = graph.value(name);
        if (!v) {
          throw new SdxlOptError('BAD_MODEL', `input '${name}' is not produced by any node, graph input or initializer`, {
            where,
            hint: 'the model is incomplete or corrupt',
          });
        }
        return v;
      }),
    );
    // Free names are distinct, and a name finds one value: no duplicate check is needed (one was quadratic).
    for (const name of subgraphFreeNames(np.attribute ?? [])) {
      const v = lookup(name);
      if (!v) throw new SdxlOptError('BAD_MODEL', `a subgraph reads '${name}', which no enclosing graph defines`, { where });
      node.implicitInputs.push(v);
    }
    graph.append(node);
  }

  for (const vi of proto.output ?? []) {
    const v = graph.value(vi.name ?? '');
    if (!v) {
      throw new SdxlOptError('BAD_MODEL', `graph output '${vi.name}' is not produced by any node, input or initializer`, {
        where: at(`graph '${graphName}'`),
      });
    }
    v.originInfo ??= vi;
    if (v.originInfo !== vi) v.outputInfo = vi;
    v.type ??= typeFromProto(vi.type, at(`graph output '${vi.name}'`));
    graph.outputs.push(v);
  }
  return graph;
}

function graphScope(graph: Graph): Map<string, Value> {
  return new Map([...graph.values()].map((v) => [v.name, v]));
}

/** Names a node's subgraphs read but do not define (outer-scope references), in first-use order. */
export function subgraphFreeNames(attributes: readonly { g?: GraphProto; graphs?: GraphProto[] }[]): string[] {
  const free: string[] = [];
  const seen = new Set<string>();
  const visit = (g: GraphProto, bound: Set<string>): void => {
    const local = new Set(bound);
    for (const v of g.input ?? []) local.add(v.name ?? '');
    for (const t of g.initializer ?? []) local.add(t.name ?? '');
    for (const s of g.sparse_initializer ?? []) local.add(s.values?.name ?? '');
    for (const n of g.node ?? []) for (const o of n.output ?? []) local.add(o);
    const reads = [...(g.node ?? []).flatMap((n) => n.input ?? []), ...(g.output ?? []).map((o) => o.name ?? '')];
    for (const name of reads) {
      if (name && !local.has(name) && !seen.has(name)) {
        seen.add(name);
        free.push(name);
      }
    }
    for (const n of g.node ?? []) for (const a of n.attribute ?? []) [a.g, ...(a.graphs ?? [])].forEach((s) => s && visit(s, local));
  };
  for (const a of attributes) [a.g, ...(a.graphs ?? [])].forEach((s) => s && visit(s, new Set()));
  return free;
}
