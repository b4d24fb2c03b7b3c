/** Tensor bytes made block by block at write time: exact reads, chunking, transposes and column packing. */
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, test } from 'node:test';
import { BlockMappedData, ExactReader } from '../src/ir/block-data.js';
import { InlineData, Tensor, type TensorData } from '../src/ir/tensor.js';
import { openDirect } from '../src/io/direct-writer.js';
import { DataType } from '../src/onnx/dtype.js';
import { packColumns } from '../passes/lib/pack-columns.js';
import { blockSwapOf, permuteTensor, transposeBytes } from '../passes/lib/permute-tensor.js';

/** Data whose chunks come in the awkward sizes given, in turn, whatever size is asked for. */
function raggedData(bytes: Uint8Array, sizes: readonly number[]): TensorData {
  return {
    byteLength: bytes.byteLength,
    inMemory: undefined,
    describe: () => 'ragged',
    async *chunks() {
      for (let at = 0, i = 0; at < bytes.byteLength; i++) {
        const n = Math.min(sizes[i % sizes.length]!, bytes.byteLength - at);
        yield bytes.slice(at, at + n);
        at += n;
      }
    },
  };
}

async function collect(data: TensorData, maxChunk?: number): Promise<{ bytes: Uint8Array; chunks: number[] }> {
  const parts: Uint8Array[] = [];
  for await (const chunk of data.chunks(maxChunk)) parts.push(chunk.slice());
  return { bytes: new Uint8Array(Buffer.concat(parts)), chunks: parts.map((p) => p.byteLength) };
}

const sequence = (n: number) => Uint8Array.from({ length: n }, (_, i) => (i * 7 + 3) & 0xff);

describe('block data', () => {
  test('ExactReader gives exactly the bytes asked for, across chunk boundaries', async () => {
    const bytes = sequence(1000);
    const reader = new ExactReader(raggedData(bytes, [3, 250, 1, 77]));
    const pieces: Uint8Array[] = [];
    for (const n of [10, 1, 300, 89, 600]) pieces.push((await reader.take(n)).slice());
    await reader.close();
    assert.deepEqual(new Uint8Array(Buffer.concat(pieces)), bytes);
    const short = new ExactReader(raggedData(bytes, [64]));
    await assert.rejects(short.take(1001), /ended before/);
  });

  test('BlockMappedData maps whole blocks in bounded chunks, a block larger than a chunk in pieces', async () => {
    const source = new InlineData(sequence(4 * 60));
    // Reverse each 4-byte block.
    const reversed = new BlockMappedData([source], [4], 4, 60, ([input], out, count) => {
      for (let b = 0; b < count; b++) for (let i = 0; i < 4; i++) out[b * 4 + i] = input![b * 4 + 3 - i]!;
    }, 'reverse');
    const { bytes, chunks } = await collect(reversed, 40);
    assert.ok(chunks.every((n) => n <= 40 && n % 4 === 0), String(chunks));
    for (let b = 0; b < 60; b++) for (let i = 0; i < 4; i++) assert.equal(bytes[b * 4 + i], sequence(240)[b * 4 + 3 - i]);
    const whole = new BlockMappedData([source], [240], 240, 1, ([input], out) => out.set(input!), 'copy');
    const pieces = await collect(whole, 64);
    assert.deepEqual(pieces.chunks, [64, 64, 64, 48]);
    assert.deepEqual(pieces.bytes, sequence(240));
  });

  test('blockSwapOf finds leading axes kept and two groups swapped, and nothing else', () => {
    assert.deepEqual(blockSwapOf([8, 5, 3, 3], [0, 2, 3, 1]), { outer: 8, rows: 5, cols: 9 });
    assert.deepEqual(blockSwapOf([6, 4], [1, 0]), { outer: 1, rows: 6, cols: 4 });
    assert.deepEqual(blockSwapOf([1, 5, 3, 3], [0, 2, 3, 1]), { outer: 1, rows: 5, cols: 9 });
    assert.equal(blockSwapOf([2, 3, 4], [2, 1, 0]), undefined);
    assert.equal(blockSwapOf([2, 3, 4, 5], [1, 0, 3, 2]), undefined);
  });

  test('permuteTensor streams block transposes that match the element-by-element transpose', async () => {
    for (const [dims, perm, dtype, size] of [
      [[7, 5, 3, 3], [0, 2, 3, 1], DataType.FLOAT, 4],
      [[40, 33], [1, 0], DataType.FLOAT, 4],
      [[3, 6, 2, 2], [0, 2, 3, 1], DataType.FLOAT16, 2],
      [[2, 3, 4], [2, 0, 1], DataType.FLOAT, 4],
    ] as const) {
      const count = dims.reduce((a, b) => a * b, 1);
      const bytes = sequence(count * size);
      const permuted = permuteTensor(new Tensor(dtype, dims, new InlineData(bytes)), perm);
      const expected = transposeBytes(bytes, dims, perm, size);
      for (const maxChunk of [undefined, 64]) {
        const { bytes: got } = await collect(permuted.data, maxChunk);
        assert.deepEqual(got, expected, `${dims} by ${perm}, chunks of ${maxChunk ?? 'default'}`);
      }
    }
  });

  test('packColumns packs row by row from sources read in lockstep, in awkward chunks', async () => {
    const rows = 9;
    const cols = [4, 4, 8];
    const sources = cols.map((c, t) => {
      const values = Float32Array.from({ length: rows * c }, (_, i) => t * 1000 + i);
      return new Tensor(DataType.FLOAT, [rows, c], raggedData(new Uint8Array(values.buffer), [12, 40, 4]));
    });
    const packed = packColumns(sources, 2, 'test');
    const { bytes } = await collect(packed.data, 48);
    const got = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
    const expected: number[] = [];
    for (let r = 0; r < rows; r++) {
      for (let b = 0; b < 2; b++) {
        cols.forEach((c, t) => {
          const run = c / 2;
          for (let i = 0; i < run; i++) expected.push(t * 1000 + r * c + b * run + i);
        });
      }
    }
    assert.deepEqual(got, expected);
  });

  test('the direct writer writes what it is given, padding only until it cuts the file to length', async (t) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-direct-'));
    try {
      const file = path.join(dir, 'data');
      const writer = await openDirect(file, 64 * 1024);
      if (!writer) {
        t.skip('O_DIRECT not available on this file system');
        return;
      }
      const pieces = [sequence(5000), sequence(70_000), sequence(1), sequence(200_000)];
      const expected: Uint8Array[] = [];
      try {
        for (const piece of pieces) {
          await writer.append(piece);
          expected.push(piece);
          const before = writer.position;
          await writer.alignTo(4096);
          expected.push(new Uint8Array(writer.position - before));
        }
        await writer.append(sequence(333));
        expected.push(sequence(333));
        await writer.finish();
      } finally {
        await writer.fh.close();
      }
      assert.deepEqual(new Uint8Array(fs.readFileSync(file)), new Uint8Array(Buffer.concat(expected)));
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
