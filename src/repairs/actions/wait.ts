/**
 * The `wait` step: waits for the effect of the step before it, which it finds in the plan (`for` is the words
 * people read). After `reassign-partitions`: the reassignment completes and its throttle is removed; after a
 * container step: what the container runs is back; after `preferred-leader-election` or `set-topic-config`:
 * nothing more (those handlers wait for their own effect). Idempotent: it only reads (and removes a throttle
 * that is no longer needed).
 */
import { describeStep, idempotent, type StepHandler } from '../steps.js';
import { waitForContainer } from './containers.js';
import type { RepairEnv } from './env.js';
import { waitForReassignment } from './reassign.js';

export function waitHandler(env: RepairEnv): StepHandler<'wait'> {
  return idempotent<'wait'>(async (step, ctx) => {
    const before = ctx.plan.steps[ctx.index - 1];
    if (before === undefined) {
      return {
        ok: false,
        detail: `nothing to wait for: "wait for ${step.for}" is the first step of the plan`,
      };
    }
    switch (before.action) {
      case 'reassign-partitions':
        return waitForReassignment(env, before, step.timeoutMs, ctx);
      case 'restart-container':
      case 'start-container':
      case 'stop-container':
        return waitForContainer(env, before, step.timeoutMs, ctx);
      case 'preferred-leader-election':
      case 'set-topic-config':
      case 'produce':
        return { ok: true, detail: `"${describeStep(before)}" already waited for its own effect` };
      case 'wait':
        return {
          ok: false,
          detail: `cannot tell what "wait for ${step.for}" waits for: the step before is a wait too`,
        };
    }
  });
}
