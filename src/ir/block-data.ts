/**
 * Tensor bytes computed from other tensors' bytes a bounded block at a time, at write time: a transpose that keeps
 * its leading axes works filter by filter, a column packing row by row. Nothing is read while a pass rewrites the
 * graph, and nothing larger than a chunk (or one block, when a block is larger) is held while the model is written.
 */
import { SdxlOptError } from '../errors.js';
import { releaseScratch, takeScratch } from './scratch.js';
import { DEFAULT_CHUNK, type TensorData } from './tensor.js';

/**
 * Reads a TensorData's bytes in pieces of exactly the sizes asked for, whatever sizes its chunks come in: a piece
 * inside one chunk is a view of it, a piece across chunks is joined in a buffer of the reader's own. A piece may be
 * reused once the next is taken.
 */
export class ExactReader {
  private readonly chunks: AsyncIterator<Uint8Array>;
  private current: Uint8Array = new Uint8Array(0);
  private at = 0;
  private joined: Uint8Array | undefined;

  constructor(
    private readonly data: TensorData,
    maxChunk = DEFAULT_CHUNK,
  ) {
    this.chunks = data.chunks(maxChunk)[Symbol.asyncIterator]();
  }

  async take(bytes: number): Promise<Uint8Array> {
    if (this.current.byteLength - this.at >= bytes) {
      const piece = this.current.subarray(this.at, this.at + bytes);
      this.at += bytes;
      return piece;
    }
    if (!this.joined || this.joined.byteLength < bytes) {
      if (this.joined) releaseScratch(this.joined);
      this.joined = takeScratch(bytes);
    }
    const out = this.joined.subarray(0, bytes);
    let filled = 0;
    while (filled < bytes) {
      if (this.at === this.current.byteLength) {
        const next = await this.chunks.next();
        if (next.done) {
          throw new SdxlOptError('BAD_TENSOR', `${this.data.describe()} ended before the ${bytes} bytes asked for`);
        }
        this.current = next.value;
        this.at = 0;
      }
      const n = Math.min(bytes - filled, this.current.byteLength - this.at);
      out.set(this.current.subarray(this.at, this.at + n), filled);
      filled += n;
      this.at += n;
    }
    return out;
  }

  /** Ends the source's iteration (its buffers go back, its files close) and gives back the reader's own buffer. */
  async close(): Promise<void> {
    await this.chunks.return?.();
    if (this.joined) releaseScratch(this.joined);
    this.joined = undefined;
  }
}

/**
 * Bytes made from `sources` block by block: block i of the output is `map` of block i of each source (`inBlock[s]`
 * bytes of source s, `outBlock` bytes out). Blocks are grouped into chunks of about `maxChunk` bytes; `map` gets the
 * sources' bytes for `count` whole blocks and fills the output for them.
 */
export class BlockMappedData implements TensorData {
  readonly byteLength: number;

  constructor(
    private readonly sources: readonly TensorData[],
    private readonly inBlock: readonly number[],
    private readonly outBlock: number,
    private readonly blocks: number,
    private readonly map: (inputs: readonly Uint8Array[], output: Uint8Array, count: number) => void,
    private readonly description: string,
  ) {
    this.byteLength = outBlock * blocks;
    sources.forEach((s, i) => {
      if (s.byteLength !== inBlock[i]! * blocks) {
        throw new SdxlOptError('BAD_TENSOR', `${description}: source ${s.describe()} has ${s.byteLength} bytes, expected ${inBlock[i]! * blocks}`);
      }
    });
  }

  get inMemory(): undefined {
    return undefined;
  }

  async *chunks(maxChunk = DEFAULT_CHUNK): AsyncIterable<Uint8Array> {
    if (this.blocks === 0 || this.outBlock === 0) return;
    const widest = Math.max(this.outBlock, ...this.inBlock);
    const perChunk = Math.max(1, Math.min(this.blocks, Math.floor(maxChunk / widest)));
    const readers = this.sources.map((s, i) => new ExactReader(s, Math.max(this.inBlock[i]!, perChunk * this.inBlock[i]!)));
    const output = takeScratch(perChunk * this.outBlock);
    try {
      for (let done = 0; done < this.blocks; ) {
        const count = Math.min(perChunk, this.blocks - done);
        const inputs: Uint8Array[] = [];
        for (const [i, reader] of readers.entries()) inputs.push(await reader.take(count * this.inBlock[i]!));
        const out = output.subarray(0, count * this.outBlock);
        this.map(inputs, out, count);
        done += count;
        // One block may exceed maxChunk: hand it out in pieces (the buffer is not touched until the next blocks).
        for (let at = 0; at < out.byteLength; at += maxChunk) yield out.subarray(at, Math.min(at + maxChunk, out.byteLength));
      }
    } finally {
      releaseScratch(output);
      for (const reader of readers) await reader.close();
    }
  }

  describe(): string {
    return this.description;
  }
}

/** An element view of `bytes` for moving bit patterns (copied first when misaligned). */
export function wordView(bytes: Uint8Array, elementBytes: number): Uint8Array | Uint16Array | Uint32Array {
  const aligned = bytes.byteOffset % elementBytes === 0 ? bytes : Uint8Array.from(bytes);
  const { buffer, byteOffset, byteLength } = aligned;
  switch (elementBytes) {
    case 1:
      return aligned;
    case 2:
      return new Uint16Array(buffer, byteOffset, byteLength / 2);
    case 4:
      return new Uint32Array(buffer, byteOffset, byteLength / 4);
    default:
      throw new SdxlOptError('UNSUPPORTED', `no word view for elements of ${elementBytes} bytes`);
  }
}
