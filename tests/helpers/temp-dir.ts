/** Temporary folders removed after the test, and content hashes to prove inputs were not touched. */
import crypto from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TestContext } from 'node:test';

export function tempDir(t: TestContext, prefix = 'sdxl-opt-test-'): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  t.after(() => fs.rmSync(dir, { recursive: true, force: true }));
  return dir;
}

export function sha256File(file: string): string {
  return crypto.createHash('sha256').update(fs.readFileSync(file)).digest('hex');
}

/** name → sha256 of every regular file directly in `dir` (symlinks and others by their kind). */
export function hashDir(dir: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const entry of fs.readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
    const full = path.join(dir, entry.name);
    if (entry.isSymbolicLink()) out.set(entry.name, `symlink → ${fs.readlinkSync(full)}`);
    else if (entry.isFile()) out.set(entry.name, sha256File(full));
    else out.set(entry.name, entry.isDirectory() ? 'directory' : 'other');
  }
  return out;
}
