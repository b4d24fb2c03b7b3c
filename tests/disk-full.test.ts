/**
 * A full disk (ENOSPC): a clear one-line error, no partial output (the previous output stays as it was), no
 * temporary files, and the input intact. Once for real on a small tmpfs (needs root and mount permission: the test
 * says so and skips where they are missing), and everywhere with file writes made to fail with ENOSPC in-process.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { describe, test, type TestContext } from 'node:test';
import { applyRecipe } from '../src/apply/apply.js';
import { SdxlOptError } from '../src/errors.js';
import { readModel } from '../src/io/read.js';
import { writeModel } from '../src/io/write.js';
import { fixture, REPO, TEST_REGISTRY } from './helpers/engine-fixtures.js';
import { hashDir, sha256File, tempDir } from './helpers/temp-dir.js';

const CLI = path.join(REPO, 'dist', 'src', 'cli', 'main.js');
const VAE = fixture('sdxl-vae-decoder-tiny-ts17.onnx'); // 2.0 MB
const UNET = fixture('sdxl-unet-small-ts17.onnx'); // 8.6 MB

/** Mounts a tmpfs of `size` at a new folder, unmounted after the test; the reason when it cannot. */
function mountTmpfs(t: TestContext, size: string): { dir: string } | { reason: string } {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'sdxl-opt-enospc-'));
  const dir = path.join(root, 'disk');
  fs.mkdirSync(dir);
  let mounted = false;
  t.after(() => {
    if (mounted) execFileSync('umount', [dir]);
    fs.rmSync(root, { recursive: true, force: true });
  });
  if (process.platform !== 'linux') return { reason: `tmpfs mounts are a Linux feature (this is ${process.platform})` };
  if (process.getuid?.() !== 0) return { reason: 'mounting a tmpfs needs root' };
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
    mounted = true;
  } catch (e) {
    const stderr = (e as { stderr?: Buffer }).stderr?.toString().trim();
    return { reason: `mount -t tmpfs failed: ${stderr || String(e)}` };
  }
  return { dir };
}

/** Beside `out`: what an interrupted or failed run could leave (temporary and backup folders). */
const leftovers = (out: string) => fs.readdirSync(path.dirname(out)).filter((n) => n.startsWith(`${path.basename(out)}.`));

describe('a full disk (ENOSPC)', () => {
  test('on a 6 MiB tmpfs: apply fails with one line, the previous output stays whole, nothing else is left', { timeout: 60_000 }, async (t) => {
    const disk = mountTmpfs(t, '6m');
    if ('reason' in disk) {
      t.skip(`no real full disk: ${disk.reason} (the injected ENOSPC test below still runs)`);
      return;
    }
    const dir = tempDir(t);
    const out = path.join(disk.dir, 'out');
    fs.writeFileSync(path.join(dir, 'vae.yaml'), `model: ${VAE}\noutput: ${out}\ntarget: cpu\n`);
    fs.writeFileSync(path.join(dir, 'unet.yaml'), `model: ${UNET}\noutput: ${out}\ntarget: cpu\n`);
    // The previous output: the 2 MB VAE fits on the disk, the 8.6 MB UNet will not.
    const first = spawnSync(process.execPath, [CLI, 'apply', 'vae.yaml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(first.status, 0, first.stderr);
    const previous = hashDir(out);
    const input = sha256File(UNET);

    const r = spawnSync(process.execPath, [CLI, 'apply', 'unet.yaml'], { cwd: dir, encoding: 'utf8' });
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, new RegExp(`^error: the disk is full while writing '${path.join(out, 'model.onnx')}' \\(free space on the disk of '${out}'; `));
    assert.equal(r.stderr.split('\n').length, 2, `one line: ${r.stderr}`);
    assert.equal(r.stdout, '');
    assert.deepEqual(hashDir(out), previous, 'the previous output is as it was');
    assert.deepEqual(fs.readdirSync(disk.dir), ['out'], 'no temporary folder is left on the full disk');
    assert.equal(sha256File(UNET), input, 'the input is intact');
    const df = execFileSync('df', ['-k', disk.dir], { encoding: 'utf8' }).trim().split('\n')[1]!.split(/\s+/);
    t.diagnostic(`tmpfs after the failed run: ${df[2]} KiB used of ${df[1]} (the previous output)`);
  });

  test('injected: writes that fail with ENOSPC after 1 MiB fail apply and writeModel the same way, everywhere', async (t) => {
    const dir = tempDir(t);
    fs.mkdirSync(path.join(dir, 'models'));
    fs.copyFileSync(VAE, path.join(dir, 'models', 'vae.onnx'));
    const recipe = path.join(dir, 'recipe.yaml');
    fs.writeFileSync(recipe, 'model: models/vae.onnx\noutput: out/vae\ntarget: cpu\n');
    const out = path.join(dir, 'out', 'vae');
    await applyRecipe(recipe, { registry: TEST_REGISTRY });
    const previous = hashDir(out);
    const inputs = hashDir(path.join(dir, 'models'));

    const restore = await failWritesAfter(1024 * 1024);
    try {
      await assert.rejects(applyRecipe(recipe, { registry: TEST_REGISTRY }), (e: unknown) => {
        assert.ok(e instanceof SdxlOptError, String(e));
        assert.equal(e.code, 'IO');
        // The message names the file being made, not its temporary name.
        assert.equal(e.oneLine(), `error: the disk is full while writing '${path.join(out, 'model.onnx')}' (free space on the disk of '${out}'; nothing was left behind, and the inputs are untouched)`);
        return true;
      });
      assert.deepEqual(hashDir(out), previous, 'the previous output is as it was');
      assert.deepEqual(leftovers(out), [], 'no temporary or backup folder is left');
      assert.deepEqual(hashDir(path.join(dir, 'models')), inputs);

      // The model writer alone, through the staged writer of external data.
      const model = await readModel(path.join(dir, 'models', 'vae.onnx'));
      fs.mkdirSync(path.join(dir, 'written'));
      await assert.rejects(writeModel(model, path.join(dir, 'written', 'model.onnx'), { externalData: 'always' }), (e: unknown) => {
        assert.ok(e instanceof SdxlOptError, String(e));
        assert.equal(e.message, `the disk is full while writing '${path.join(dir, 'written', 'model.onnx_data')}'`);
        return true;
      });
      assert.deepEqual(fs.readdirSync(path.join(dir, 'written')), [], 'the temporary files are removed');
    } finally {
      restore();
    }
    assert.deepEqual(hashDir(path.join(dir, 'models')), inputs);
  });
});

/**
 * Makes file-handle writes in this process fail as a full disk does once `budget` bytes went through them: the
 * error every `fs.promises` write path of the writer sees (FileHandle.write). Returns the undo.
 */
async function failWritesAfter(budget: number): Promise<() => void> {
  const probe = await fsp.open(process.execPath, 'r');
  const proto = Object.getPrototypeOf(probe) as { write: (...args: unknown[]) => Promise<unknown> };
  await probe.close();
  const original = proto.write;
  let written = 0;
  proto.write = async function (this: unknown, ...args: unknown[]) {
    const buffer = args[0];
    const length = typeof args[2] === 'number' ? args[2] : ArrayBuffer.isView(buffer) ? buffer.byteLength : String(buffer).length;
    if (written + length > budget) {
      throw Object.assign(new Error('ENOSPC: no space left on device, write'), { code: 'ENOSPC', errno: -28, syscall: 'write' });
    }
    written += length;
    return original.apply(this, args);
  };
  return () => {
    proto.write = original;
  };
}
