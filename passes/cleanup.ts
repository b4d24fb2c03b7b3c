/**
 * cleanup: the passes every recipe wants first, run together until none of them changes anything.
 *
 * Rules:
 * 1. Each round runs constant-folding, remove-identity, cancel-transposes, cancel-casts and dead-code-elimination,
 *    in that order: folding makes constants that the later passes and the next round build on; dead code goes last,
 *    once everything that made it dead has run.
 * 2. Rounds repeat until a round changes nothing, at most `max_rounds` times (each round is linear in the graph).
 * 3. Counts are the parts' counts summed over rounds, keyed `<pass>.<count>`, plus `rounds`.
 */
import { defaultParams, definePass, type PassDefinition, type PassResult } from '../src/engine/pass.js';
import { cancelCasts } from './cancel-casts.js';
import { cancelTransposes } from './cancel-transposes.js';
import { constantFolding } from './constant-folding.js';
import { deadCodeElimination } from './dead-code-elimination.js';
import { removeIdentity } from './remove-identity.js';

export interface CleanupParams {
  max_rounds: number;
  max_bytes: number;
  allow_lossy_round_trips: boolean;
}

export const cleanup = definePass<CleanupParams>({
  name: 'cleanup',
  description: 'Constant folding, Identity removal, Transpose and Cast cancelling and dead-code elimination, repeated until nothing changes.',
  params: {
    max_rounds: { type: 'integer', minimum: 1, maximum: 100, description: 'Most rounds of all the parts before stopping.', default: 10 },
    max_bytes: { ...constantFolding.params.max_bytes },
    allow_lossy_round_trips: { ...cancelCasts.params.allow_lossy_round_trips },
  },
  async run(ctx, params) {
    const parts: [PassDefinition<any>, object][] = [
      [constantFolding, { ...defaultParams(constantFolding), max_bytes: params.max_bytes }],
      [removeIdentity, defaultParams(removeIdentity)],
      [cancelTransposes, defaultParams(cancelTransposes)],
      [cancelCasts, { ...defaultParams(cancelCasts), allow_lossy_round_trips: params.allow_lossy_round_trips }],
      [deadCodeElimination, defaultParams(deadCodeElimination)],
    ];
    const counts: Record<string, number> = {};
    const before = ctx.graph.nodeCount;
    let rounds = 0;
    let changedAny = false;
    let settled = false;
    while (rounds < params.max_rounds) {
      rounds++;
      let changed = false;
      for (const [pass, passParams] of parts) {
        const result: PassResult = await pass.run(ctx, passParams);
        if (!result.changed) continue;
        changed = true;
        for (const [key, n] of Object.entries(result.counts)) counts[`${pass.name}.${key}`] = (counts[`${pass.name}.${key}`] ?? 0) + n;
      }
      changedAny ||= changed;
      if (!changed) {
        settled = true;
        break;
      }
    }
    counts.rounds = rounds;
    const after = ctx.graph.nodeCount;
    const reasons = settled ? [] : [`still changing after ${rounds} rounds (max_rounds); run cleanup again or raise max_rounds`];
    if (!settled) ctx.log(reasons[0]!);
    return {
      changed: changedAny,
      counts,
      summary: changedAny ? `${before} → ${after} nodes in ${rounds} rounds` : 'nothing to clean up',
      reasons,
    };
  },
});
