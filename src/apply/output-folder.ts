/**
 * The output folder, replaced as a whole. Everything is written into a temporary sibling folder
 * (`<output>.tmp-<pid>-<random>`), and only when it is complete is it swapped into place:
 *
 *   1. rename <output> → <output>.backup-<pid>-<random>   (when an old output exists)
 *   2. rename the temporary folder → <output>
 *   3. remove the backup
 *
 * Each step is one rename on one file system, so a crash leaves either the old complete folder (before step 1),
 * no <output> but the old folder complete as a backup beside it (between 1 and 2: rename it back), or the new
 * complete folder (after 2, perhaps with a backup still to delete). An interrupted run's temporary folder is
 * removed on Ctrl-C; after a SIGKILL it stays beside the output, named `.tmp-`, and can be deleted.
 *
 * An existing output is replaced only when it looks like an earlier sdxl-opt output (it has our report.json) or
 * is empty, so a mistyped `output:` cannot wipe an unrelated folder.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { SdxlOptError } from '../errors.js';
import { registerTempFile, unregisterTempFile } from '../io/temp-files.js';
import { writeError } from '../io/write.js';

export const REPORT_JSON = 'report.json';
export const TOOL_NAME = 'sdxl-opt';

/** Refuses to replace a folder sdxl-opt did not write. `where` places the message (the recipe's `output:`). */
export function checkReplaceable(target: string, where?: string): void {
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(target);
  } catch {
    return; // nothing there yet
  }
  const refuse = (why: string): never => {
    throw new SdxlOptError('UNSAFE_PATH', `output '${target}' ${why}`, {
      where,
      hint: 'sdxl-opt replaces its output folder as a whole; name a new folder, or delete this one yourself',
    });
  };
  if (stat.isSymbolicLink()) refuse('is a symbolic link');
  if (!stat.isDirectory()) refuse('exists and is not a folder');
  const entries = fs.readdirSync(target);
  if (entries.length === 0) return;
  if (!entries.includes(REPORT_JSON) || !writtenBySdxlOpt(path.join(target, REPORT_JSON))) {
    refuse(`exists and was not written by sdxl-opt (it has no sdxl-opt ${REPORT_JSON})`);
  }
}

function writtenBySdxlOpt(reportFile: string): boolean {
  try {
    if (fs.statSync(reportFile).size > 64 * 1024 * 1024) return false;
    const report = JSON.parse(fs.readFileSync(reportFile, 'utf8')) as { tool?: { name?: unknown } };
    return report.tool?.name === TOOL_NAME;
  } catch {
    return false;
  }
}

export interface Leftover {
  path: string;
  kind: 'backup' | 'temporary';
}

/**
 * Folders interrupted runs left beside `target`: backups of an earlier output (when `target` is missing, the newest
 * holds it) and temporary folders of runs whose process is gone (those of a run still going are not listed).
 */
export function leftovers(target: string): Leftover[] {
  const dir = path.dirname(target);
  const base = path.basename(target);
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return [];
  }
  const out: Leftover[] = [];
  for (const name of names) {
    const m = /^(backup|tmp)-(\d+)-[a-z0-9]+$/.exec(name.startsWith(`${base}.`) ? name.slice(base.length + 1) : '');
    if (!m) continue;
    if (m[1] === 'backup') out.push({ path: path.join(dir, name), kind: 'backup' });
    else if (!processAlive(Number(m[2]))) out.push({ path: path.join(dir, name), kind: 'temporary' });
  }
  return out;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class StagedFolder {
  private committed = false;

  private constructor(
    readonly target: string,
    /** Write everything here; it becomes `target` on commit. */
    readonly staging: string,
  ) {}

  static async create(target: string): Promise<StagedFolder> {
    const parent = path.dirname(target);
    try {
      await fsp.mkdir(parent, { recursive: true });
    } catch (e) {
      throw writeError(e, parent);
    }
    const staging = `${target}.tmp-${process.pid}-${randomTag()}`;
    registerTempFile(staging);
    try {
      await fsp.mkdir(staging);
    } catch (e) {
      unregisterTempFile(staging);
      throw writeError(e, staging);
    }
    return new StagedFolder(target, staging);
  }

  /** Swaps the staging folder into place (see the module comment for what a crash at each step leaves). */
  async commit(): Promise<void> {
    if (this.committed) return;
    const backup = fs.existsSync(this.target) ? `${this.target}.backup-${process.pid}-${randomTag()}` : undefined;
    if (backup) await rename(this.target, backup);
    try {
      await rename(this.staging, this.target);
    } catch (e) {
      if (backup) await fsp.rename(backup, this.target).catch(() => undefined);
      throw e;
    }
    this.committed = true;
    unregisterTempFile(this.staging);
    if (backup) await fsp.rm(backup, { recursive: true, force: true });
  }

  /** Removes the staging folder (after a failure that leaves nothing worth keeping). */
  async discard(): Promise<void> {
    if (this.committed) return;
    await fsp.rm(this.staging, { recursive: true, force: true });
    unregisterTempFile(this.staging);
  }
}

async function rename(from: string, to: string): Promise<void> {
  try {
    await fsp.rename(from, to);
  } catch (e) {
    throw writeError(e, to);
  }
}

function randomTag(): string {
  return Math.random().toString(36).slice(2, 10);
}
