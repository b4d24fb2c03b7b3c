/**
 * What the data-file writers share: bytes are staged in a ring of equal buffers and a full buffer is handed to the
 * subclass's `flush`, which starts its write and moves `current` on. Only how a buffer reaches the disk differs
 * (StagedWriter: through the page cache with rolling syncs; DirectWriter: O_DIRECT from aligned buffers).
 */
export abstract class BufferRing {
  protected current = 0;
  protected filled = 0;
  /** File position of the current buffer's first byte. */
  protected flushedTo = 0;

  constructor(protected readonly buffers: readonly Uint8Array[]) {}

  /** Bytes appended so far: the file offset of the next byte. */
  get position(): number {
    return this.flushedTo + this.filled;
  }

  async append(bytes: Uint8Array): Promise<void> {
    await this.stage(bytes.byteLength, (into, done) => into.set(bytes.subarray(done, done + into.byteLength)));
  }

  /** Appends zeros up to the next multiple of `alignment`. */
  async alignTo(alignment: number): Promise<void> {
    await this.stage((alignment - (this.position % alignment)) % alignment, (into) => into.fill(0));
  }

  /**
   * Appends `bytes` bytes that `fill` writes in place, piece by piece, straight into the buffers; `done` is how many
   * of them earlier pieces held.
   */
  protected async stage(bytes: number, fill: (into: Uint8Array, done: number) => void): Promise<void> {
    for (let done = 0; done < bytes; ) {
      const buffer = this.buffers[this.current]!;
      const n = Math.min(buffer.byteLength - this.filled, bytes - done);
      fill(buffer.subarray(this.filled, this.filled + n), done);
      this.filled += n;
      done += n;
      if (this.filled === buffer.byteLength) await this.flush();
    }
  }

  /** Starts writing the current buffer's `filled` bytes at `flushedTo`, then moves on to a free buffer. */
  protected abstract flush(): Promise<void>;
}
