/** What an inference rule sees of a node, and what it returns for each output. */
import type { DataType } from '../../onnx/dtype.js';
import type { Node } from '../node.js';
import type { Dim, TensorType } from '../value.js';

/** A small tensor whose contents are known: shape computations (elements may be symbolic dims) and constants. */
export interface KnownTensor {
  dims: number[];
  /** Row-major; a string is a symbolic dim, undefined an element not known. */
  data: Dim[];
}

export interface OutputInference {
  dtype?: DataType;
  /** undefined when even the rank is unknown; entries may be undefined (unknown dims). */
  shape?: Dim[];
  value?: KnownTensor;
}

export interface RuleContext {
  readonly node: Node;
  /** Number of input slots (omitted optional inputs included). */
  readonly inputCount: number;
  has(i: number): boolean;
  type(i: number): TensorType | undefined;
  dtype(i: number): DataType | undefined;
  shape(i: number): Dim[] | undefined;
  /** Known contents of input i (a constant or a propagated shape computation). */
  value(i: number): KnownTensor | undefined;
  /** Input i's contents as numbers, when every element is a known number. */
  ints(i: number): number[] | undefined;
  /** Records that the inputs cannot go together (a MatMul whose inner dims differ): a broken graph. */
  problem(message: string): void;
}

/** One entry per output (missing entries: nothing known). */
export type Rule = (ctx: RuleContext) => (OutputInference | undefined)[];
