/** A model: its graph, the operator sets it imports, and everything else of the ModelProto, kept as read. */
import type { FunctionProto, ModelProto } from '../onnx/types.js';
import type { Graph } from './graph.js';

export class Model {
  /** ModelProto fields the IR does not model (doc_string, metadata_props, training_info, unknown fields...). */
  origin: ModelProto | undefined;
  /** Model-local functions, kept as read: nodes calling them are preserved, not rewritten inside. */
  functions: FunctionProto[] = [];

  constructor(
    public graph: Graph,
    public irVersion: number,
    /** domain ('' for the default ONNX domain) → version */
    public readonly opsets: Map<string, number>,
  ) {}

  /** The default-domain opset (the ONNX version operators are read at). */
  get opset(): number {
    return this.opsets.get('') ?? this.opsets.get('ai.onnx') ?? 0;
  }

  /** Makes sure the model imports `domain` (e.g. com.microsoft for contrib ops). */
  requireOpset(domain: string, version: number): void {
    const have = this.opsets.get(domain);
    if (have === undefined || have < version) this.opsets.set(domain, version);
  }

  get producer(): string {
    const p = this.origin;
    return [p?.producer_name, p?.producer_version].filter(Boolean).join(' ');
  }
}
