/**
 * Sequential writing through two staging buffers: bytes are copied in, and a full buffer is written while the
 * caller fills the other. Writes are large and sequential whatever the callers' pieces are (small tensors and
 * alignment padding share one write), the source's next read overlaps the previous write, and no buffer is
 * allocated after the first two. The caller's chunks may be reused as soon as `append` returns; `produce` lets a
 * generator write into the staging buffers directly, with no copy.
 */
import type fsp from 'node:fs/promises';
import { BufferRing } from './buffer-ring.js';
import { writeError } from './write-errors.js';

export const STAGING_BYTES = 16 * 1024 * 1024;
/** Pieces this large skip the staging buffers. */
const DIRECT_WRITE_BYTES = 1024 * 1024;

export class StagedWriter extends BufferRing {
  private inFlight: Promise<void> = Promise.resolve();
  /** The rolling flush to disk under way, and where the file stood when it began. */
  private syncing: Promise<void> | undefined;
  private syncedTo = 0;
  private syncError: unknown;

  /**
   * `syncEvery`: once that many bytes were written since the last flush to disk began, start another (fdatasync,
   * not awaited). The kernel starts writing dirty pages back only once they pass a share of memory (gigabytes here),
   * and the final fsync then waits for all of them; flushing as we go keeps the disk busy from the first gigabyte,
   * which on a disk slower than the conversion is most of the time saved. 0: never (the caller syncs at the end).
   */
  constructor(
    private readonly fh: fsp.FileHandle,
    private readonly file: string,
    bufferBytes = STAGING_BYTES,
    private readonly syncEvery = 0,
  ) {
    super([new Uint8Array(bufferBytes), new Uint8Array(bufferBytes)]);
  }

  override async append(bytes: Uint8Array): Promise<void> {
    if (bytes.byteLength >= DIRECT_WRITE_BYTES) {
      // Large pieces are written as they are: copying them gains nothing (measured: overlapping their read with
      // the previous write only made both slower on 2 cores), and each is already one large write.
      if (this.filled > 0) await this.flush();
      await this.inFlight;
      await writeFully(this.fh, bytes, this.flushedTo, this.file);
      this.flushedTo += bytes.byteLength;
      this.maybeSync();
      return;
    }
    await super.append(bytes);
  }

  /** Appends `bytes` bytes that `fill` writes in place, piece by piece, straight into the staging buffers. */
  async produce(bytes: number, fill: (into: Uint8Array) => void): Promise<void> {
    await this.stage(bytes, fill);
  }

  /** Moves forward to `position`: zeros when they fit in the staging buffer, otherwise a hole in the file. */
  async skipTo(position: number): Promise<void> {
    const gap = position - this.position;
    if (gap < 0) throw new RangeError(`cannot move back from ${this.position} to ${position}`);
    const buffer = this.buffers[this.current]!;
    if (gap <= buffer.byteLength - this.filled) {
      buffer.fill(0, this.filled, this.filled + gap);
      this.filled += gap;
      if (this.filled === buffer.byteLength) await this.flush();
      return;
    }
    if (this.filled > 0) await this.flush();
    this.flushedTo = position;
  }

  /** Writes what is staged and waits for every write to finish. */
  async finish(): Promise<void> {
    if (this.filled > 0) await this.flush();
    await this.inFlight;
    await this.syncing;
    if (this.syncError) throw writeError(this.syncError, this.file);
  }

  private maybeSync(): void {
    if (!this.syncEvery || this.syncing || this.flushedTo - this.syncedTo < this.syncEvery) return;
    this.syncedTo = this.flushedTo;
    this.syncing = this.fh.datasync().then(
      () => {
        this.syncing = undefined;
      },
      (e: unknown) => {
        this.syncError ??= e;
        this.syncing = undefined;
      },
    );
  }

  /** Starts writing the current buffer once the previous write is done, and switches to the other buffer. */
  protected async flush(): Promise<void> {
    await this.inFlight; // the other buffer is free again once its write is done
    const bytes = this.buffers[this.current]!.subarray(0, this.filled);
    this.inFlight = writeFully(this.fh, bytes, this.flushedTo, this.file);
    // Surface a failed write at the next await even if nobody awaits it before then.
    this.inFlight.catch(() => undefined);
    this.flushedTo += this.filled;
    this.filled = 0;
    this.current ^= 1;
    this.maybeSync();
  }
}

export async function writeFully(fh: fsp.FileHandle, bytes: Uint8Array, position: number, file: string): Promise<void> {
  for (let done = 0; done < bytes.byteLength; ) {
    try {
      const { bytesWritten } = await fh.write(bytes, done, bytes.byteLength - done, position + done);
      done += bytesWritten;
    } catch (e) {
      throw writeError(e, file);
    }
  }
}
