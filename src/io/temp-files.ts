/**
 * Temporary files in flight. On SIGINT/SIGTERM the CLI removes them before exiting, so an interrupted write leaves
 * no debris; a SIGKILL cannot be caught, which is why outputs are only ever renamed into place when complete.
 */
import fs from 'node:fs';

const inFlight = new Set<string>();

export function registerTempFile(file: string): void {
  inFlight.add(file);
}

export function unregisterTempFile(file: string): void {
  inFlight.delete(file);
}

/** Synchronously removes every temporary file still registered (for signal handlers). */
export function removeTempFilesSync(): void {
  for (const f of inFlight) {
    try {
      fs.rmSync(f, { force: true, recursive: true });
    } catch {
      // best effort while exiting
    }
  }
  inFlight.clear();
}
