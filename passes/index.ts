/**
 * The registry: every pass sdxl-opt has, in the order `sdxl-opt passes` lists them. A meta-test checks that each
 * file in passes/ is registered here exactly once and that each pass has tests.
 */
import type { PassDefinition } from '../src/engine/pass.js';
import { cast } from './cast.js';

export const PASSES: readonly PassDefinition<any>[] = [cast];

export function findPass(name: string): PassDefinition<any> | undefined {
  return PASSES.find((p) => p.name === name);
}
