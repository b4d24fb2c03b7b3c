/**
 * Reused working buffers for streaming tensor bytes. Writing the full SDXL UNet converts or rearranges about a
 * thousand weights chunk by chunk; a fresh chunk-sized buffer for each costs more in page faults and garbage
 * collection than the work done in it. Buffers from 64 KiB up to DEFAULT_CHUNK bytes are views of
 * chunk-sized buffers that go back to a small pool; others are made fresh.
 */
import { DEFAULT_CHUNK } from './tensor.js';

const POOL: ArrayBuffer[] = [];
const POOLED_KEPT = 6;

/** Below this, a fresh buffer costs less than holding a chunk-sized one. */
const SMALL = 64 * 1024;

/** A buffer of `bytes` bytes (contents undefined), 8-byte aligned; give it back with `releaseScratch` when done. */
export function takeScratch(bytes: number): Uint8Array {
  if (bytes <= DEFAULT_CHUNK && bytes >= SMALL) {
    return new Uint8Array(POOL.pop() ?? new ArrayBuffer(DEFAULT_CHUNK), 0, bytes);
  }
  return new Uint8Array(bytes);
}

export function releaseScratch(buffer: Uint8Array): void {
  if (buffer.buffer.byteLength === DEFAULT_CHUNK && buffer.byteOffset === 0 && POOL.length < POOLED_KEPT && buffer.buffer instanceof ArrayBuffer) {
    POOL.push(buffer.buffer);
  }
}
