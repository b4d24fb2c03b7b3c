import assert from 'node:assert/strict';
import { test } from 'node:test';
import { DataType } from '../../src/onnx/dtype.js';
import { tinyModel } from '../helpers/tiny-model.js';

test('reader: a symbolic dim (dim_param) reads as its name, not as 0 (protobufjs puts dim_value 0 on the prototype)', () => {
  const model = tinyModel({ inputs: [['x', DataType.FLOAT, ['batch', 4, 'h']]], outputs: [['x', DataType.FLOAT]], nodes: [] });
  assert.deepEqual(model.graph.inputs[0]!.type?.shape, ['batch', 4, 'h']);
});
