import assert from 'node:assert/strict';
import { test } from 'node:test';
import { typedView } from '../../src/ir/tensor.js';
import { DataType } from '../../src/onnx/dtype.js';

test('typedView: a Buffer at an unaligned offset (as protobufjs decodes raw_data) is copied, not viewed', () => {
  const backing = Buffer.alloc(20);
  new DataView(backing.buffer, backing.byteOffset).setBigInt64(3, 9223372036854775807n, true);
  const bytes = backing.subarray(3, 11); // a Buffer: its slice() is a view, so it cannot be used to realign
  assert.deepEqual(Array.from(typedView(DataType.INT64, bytes) as BigInt64Array), [9223372036854775807n]);
  const floats = Buffer.from(new Uint8Array(new Float32Array([1.5, -2]).buffer));
  const odd = Buffer.concat([Buffer.alloc(1), floats]).subarray(1);
  assert.deepEqual(Array.from(typedView(DataType.FLOAT, odd) as Float32Array), [1.5, -2]);
});
