/**
 * The registry: every pass sdxl-opt has, in the order `sdxl-opt passes` lists them (cleanups, then the SDXL passes
 * in the order a fast recipe runs them). A meta-test checks that each file in passes/ is registered here exactly once.
 */
import type { PassDefinition } from '../src/engine/pass.js';
import { cancelCasts } from './cancel-casts.js';
import { cancelTransposes } from './cancel-transposes.js';
import { cast } from './cast.js';
import { channelsLast } from './channels-last.js';
import { cleanup } from './cleanup.js';
import { constantFolding } from './constant-folding.js';
import { conv1x1ToMatMul } from './conv1x1-to-matmul.js';
import { deadCodeElimination } from './dead-code-elimination.js';
import { dynamicInt8 } from './dynamic-int8.js';
import { fuseAttention } from './fuse-attention.js';
import { fuseBiasAdd } from './fuse-bias-add.js';
import { fuseBiasSplitGelu } from './fuse-bias-split-gelu.js';
import { fuseGelu } from './fuse-gelu.js';
import { fuseGroupNorm } from './fuse-groupnorm.js';
import { fuseQkv } from './fuse-qkv.js';
import { fuseSkipGroupNorm } from './fuse-skip-groupnorm.js';
import { fuseSkipLayerNorm } from './fuse-skip-layernorm.js';
import { removeIdentity } from './remove-identity.js';
import { removeNeutralOps } from './remove-neutral-ops.js';
import { simplifyConcatSlices } from './simplify-concat-slices.js';

export const PASSES: readonly PassDefinition<any>[] = [
  cleanup,
  constantFolding,
  deadCodeElimination,
  removeIdentity,
  cancelTransposes,
  cancelCasts,
  removeNeutralOps,
  simplifyConcatSlices,
  cast,
  fuseAttention,
  fuseQkv,
  conv1x1ToMatMul,
  fuseGroupNorm,
  channelsLast,
  fuseSkipGroupNorm,
  fuseSkipLayerNorm,
  fuseBiasSplitGelu,
  fuseBiasAdd,
  fuseGelu,
  dynamicInt8,
];

export function findPass(name: string): PassDefinition<any> | undefined {
  return PASSES.find((p) => p.name === name);
}
