/**
 * Ctrl-C and `kill`: remove the temporary files and folders still being written (src/io/temp-files.ts), say so,
 * and exit 130 (SIGINT) or 143 (SIGTERM), as shells expect. Outputs are only renamed into place when complete, so
 * what the interrupted run leaves is the previous result or nothing.
 */
import { removeTempFilesSync } from '../io/temp-files.js';

export const SIGNAL_EXIT_CODES = { SIGINT: 130, SIGTERM: 143 } as const;

function onSignal(signal: NodeJS.Signals): void {
  removeTempFilesSync();
  process.stderr.write(`\ninterrupted (${signal}); temporary files removed\n`);
  process.exit(SIGNAL_EXIT_CODES[signal as keyof typeof SIGNAL_EXIT_CODES] ?? 1);
}

export function installSignalCleanup(): void {
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
}
