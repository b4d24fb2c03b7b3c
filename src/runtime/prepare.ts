/**
 * What running a model needs from its file before ONNX Runtime sees it: the inputs to feed and a check that
 * every input and output can cross ORT's JavaScript API (bfloat16 cannot). Reading with `requireData` turns a
 * missing external data file into a clear error instead of ORT's.
 */
import { readModel } from '../io/read.js';
import type { DimResolver } from './dims.js';
import { generateInputs, inputSpecsOf, type GeneratedInput } from './inputs.js';
import { ortTypeOf } from './tensor-data.js';
import { DataType } from '../onnx/dtype.js';
import type { Dim } from '../ir/value.js';

export interface PreparedModel {
  file: string;
  inputs: GeneratedInput[];
  /** Declared input shapes (numbers and dim names), by input name. */
  declared: Map<string, Dim[] | undefined>;
  outputNames: string[];
}

export async function prepareModel(file: string, dims: DimResolver, seed: number): Promise<PreparedModel> {
  const model = await readModel(file, { requireData: true });
  for (const out of model.graph.outputs) ortTypeOf(out.dtype ?? DataType.UNDEFINED, `output '${out.name}'`, file);
  const specs = inputSpecsOf(model);
  return {
    file,
    inputs: generateInputs(specs, dims, seed, file),
    declared: new Map(specs.map((s) => [s.name, s.shape])),
    outputNames: model.graph.outputs.map((v) => v.name),
  };
}
