/** The kernel table: what ONNX Runtime 1.29 runs in which float type, and what ONNX schemas accept. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { hasKernel, isKnownOp, runnableTypes, schemaAllows } from '../../src/ort/kernels.js';
import { DataType } from '../../src/onnx/dtype.js';

const { FLOAT: F32, FLOAT16: F16, BFLOAT16: BF16 } = DataType;

describe('kernel table', () => {
  test('Conv: bfloat16 only from opset 22 (schema and CUDA kernel); float16 always on CUDA, never on CPU', () => {
    assert.equal(schemaAllows('Conv', '', BF16, 17), false);
    assert.equal(hasKernel('Conv', '', BF16, 17, 'cuda'), false);
    assert.equal(hasKernel('Conv', '', BF16, 22, 'cuda'), true);
    assert.equal(hasKernel('Conv', '', F16, 17, 'cuda'), true);
    assert.equal(hasKernel('Conv', '', F16, 17, 'cpu'), false);
    assert.equal(hasKernel('Conv', '', F32, 17, 'cpu'), true);
  });

  test('no bfloat16 on CUDA for Resize, InstanceNormalization, ReduceMean, Pad, Sin/Cos, ConvTranspose and the diffusion contrib ops', () => {
    for (const op of ['Resize', 'InstanceNormalization', 'ReduceMean', 'Pad', 'Sin', 'Cos', 'ConvTranspose']) {
      assert.equal(hasKernel(op, '', BF16, 22, 'cuda'), false, op);
      assert.equal(hasKernel(op, '', F16, 17, 'cuda'), true, op);
    }
    for (const op of ['GroupNorm', 'SkipGroupNorm', 'NhwcConv', 'BiasSplitGelu', 'BiasAdd']) {
      assert.equal(hasKernel(op, 'com.microsoft', BF16, 1, 'cuda'), false, op);
      assert.equal(hasKernel(op, 'com.microsoft', F16, 1, 'cuda'), true, op);
      assert.equal(hasKernel(op, 'com.microsoft', F32, 1, 'cpu'), false, `${op} has no CPU kernel`);
    }
  });

  test('bfloat16 on CUDA for the transformer ops', () => {
    for (const op of ['MatMul', 'Gemm', 'Add', 'Sub', 'Mul', 'Div', 'Softmax', 'LayerNormalization', 'Erf', 'Sigmoid', 'Tanh', 'Relu', 'Exp', 'Sqrt', 'Pow', 'ReduceSum', 'Cast', 'Transpose', 'Reshape', 'Concat', 'Split', 'Slice', 'Gather', 'Expand', 'Where']) {
      assert.equal(hasKernel(op, '', BF16, 17, 'cuda'), true, op);
    }
    for (const op of ['MultiHeadAttention', 'SkipLayerNormalization', 'FastGelu', 'BiasGelu']) assert.equal(hasKernel(op, 'com.microsoft', BF16, 1, 'cuda'), true, op);
  });

  test('opset ranges: InstanceNormalization has no CUDA kernel at opset 22 in any type; ONNX GroupNormalization none at all', () => {
    assert.equal(hasKernel('InstanceNormalization', '', F16, 21, 'cuda'), true);
    assert.equal(hasKernel('InstanceNormalization', '', F16, 22, 'cuda'), false);
    assert.equal(hasKernel('InstanceNormalization', '', F32, 22, 'cuda'), false);
    assert.equal(hasKernel('GroupNormalization', '', F32, 21, 'cuda'), false);
  });

  test('schemas: Sin/Cos accept bfloat16 only from opset 22, Range no narrow type, Where float16 from 9', () => {
    assert.equal(schemaAllows('Sin', '', BF16, 21), false);
    assert.equal(schemaAllows('Sin', '', BF16, 22), true);
    assert.equal(schemaAllows('Range', '', F16, 22), false);
    assert.equal(schemaAllows('Where', '', F16, 8), false);
    assert.equal(schemaAllows('Where', '', F16, 9), true);
  });

  test('CPU (measured): float16 MatMul, Gemm, LayerNormalization, SkipLayerNormalization; no float16 Add, Softmax, Conv', () => {
    assert.deepEqual(runnableTypes('MatMul', '', 17, 'cpu', [BF16, F16, F32]), [F16, F32]);
    assert.deepEqual(runnableTypes('LayerNormalization', '', 17, 'cpu', [F16, F32]), [F16, F32]);
    assert.equal(hasKernel('SkipLayerNormalization', 'com.microsoft', F16, 1, 'cpu'), true);
    for (const op of ['Add', 'Softmax', 'Sigmoid', 'Resize', 'InstanceNormalization']) assert.equal(hasKernel(op, '', F16, 17, 'cpu'), false, op);
  });

  test('unknown operators have no kernel in any type, so passes leave them as they are', () => {
    assert.equal(isKnownOp('MyOp', 'my.domain'), false);
    assert.equal(hasKernel('MyOp', 'my.domain', F32, 1, 'cuda'), false);
    assert.equal(schemaAllows('MyOp', 'my.domain', F16, 1), false);
  });
});
