/**
 * Repair steps for the executor: the handler contract, one-line descriptions, and the comparison of an approved
 * plan with the plan rebuilt from a fresh snapshot right before running it.
 *
 * Handlers (producing CONNECT messages, restarting containers...) live with the repair kinds; the executor only
 * needs them to say whether they are idempotent: a handler that is safe to run again after a crash in the
 * middle of it (it re-reads the state and does only what is still missing, e.g. padding re-reads the high
 * watermark) is marked with `idempotent()`. A step that was started but not finished by a handler that is not
 * idempotent stops the repair in the "needs-operator" state instead of being repeated.
 */
import type { Logger } from '../log.js';
import type { RepairPlan, RepairStep } from '../model/index.js';
import { canonicalJson } from '../audit/chain.js';

export type StepAction = RepairStep['action'];
export type StepOf<A extends StepAction> = Extract<RepairStep, { action: A }>;

export interface StepOutcome {
  ok: boolean;
  /** One line for people: "produced 7 CONNECT messages (high watermark 14 -> 21)". */
  detail?: string;
  /** Small JSON facts for the audit log (no secrets). */
  data?: Record<string, unknown>;
}

export interface StepContext {
  requestId: string;
  plan: RepairPlan;
  /** 0-based index of the step in plan.steps. */
  index: number;
  /** 1 on the first run of this step, 2+ when an earlier attempt started and did not finish. */
  attempt: number;
  /** An earlier attempt of this step started and did not finish: re-read the state before acting. */
  resumed: boolean;
  workerId: string;
  /** Aborted when the worker is going away or lost its lock: stop as soon as possible. */
  signal: AbortSignal;
  log: Logger;
}

export type StepHandler<A extends StepAction = StepAction> = ((
  step: StepOf<A>,
  ctx: StepContext,
) => Promise<StepOutcome>) & {
  /** Safe to run again after an interrupted attempt (it checks what is already done). */
  idempotent?: boolean;
};

/** The handlers a worker has, by step action. A plan with a step that has no handler is not started. */
export type StepHandlers = { [A in StepAction]?: StepHandler<A> };

/** Mark a handler as safe to re-run after an interrupted attempt. */
export function idempotent<A extends StepAction>(
  fn: (step: StepOf<A>, ctx: StepContext) => Promise<StepOutcome>,
): StepHandler<A> {
  return Object.assign(fn, { idempotent: true });
}

export function handlerFor(handlers: StepHandlers, step: RepairStep): StepHandler | undefined {
  return handlers[step.action] as StepHandler | undefined;
}

function partitionList(ps: { topic: string; partition: number }[], max = 3): string {
  const shown = ps.slice(0, max).map((p) => `${p.topic}/${p.partition}`);
  return ps.length > max ? `${shown.join(', ')} and ${ps.length - max} more` : shown.join(', ');
}

/** One line, e.g. "produce 7 CONNECT messages to pubchain/0". */
export function describeStep(step: RepairStep): string {
  const opt = step.optional ? ' (optional)' : '';
  switch (step.action) {
    case 'produce': {
      const what = step.value === '1a00' ? 'CONNECT' : `0x${step.value}`;
      return `produce ${step.count} ${what} message${step.count === 1 ? '' : 's'} to ${step.topic}/${step.partition}${opt}`;
    }
    case 'restart-container':
      return `restart container ${step.container}${opt}`;
    case 'start-container':
      return `start container ${step.container}${opt}`;
    case 'stop-container':
      return `stop container ${step.container}${opt}`;
    case 'reassign-partitions': {
      const first = step.partitions
        .slice(0, 3)
        .map((p) => `${p.topic}/${p.partition} -> [${p.replicas.join(',')}]`)
        .join(', ');
      const more = step.partitions.length > 3 ? ` and ${step.partitions.length - 3} more` : '';
      const throttle = step.throttleBytes !== undefined ? ` (throttle ${step.throttleBytes} B/s)` : '';
      return `reassign ${first}${more}${throttle}${opt}`;
    }
    case 'preferred-leader-election':
      return `preferred leader election for ${partitionList(step.partitions)}${opt}`;
    case 'set-topic-config': {
      const kv = Object.entries(step.configs)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ');
      return `set ${kv} on topic ${step.topic}${opt}`;
    }
    case 'wait':
      return `wait for ${step.for} (up to ${Math.round(step.timeoutMs / 1000)} s)${opt}`;
  }
}

/**
 * What differs between the approved plan and the plan rebuilt from a fresh snapshot, in words; empty when the
 * fresh plan would do exactly the same. A precondition that does not hold now is always a difference.
 */
export function diffPlans(approved: RepairPlan, fresh: RepairPlan): string[] {
  const out: string[] = [];
  if (fresh.refusal !== null) out.push(`the plan would now be refused: ${fresh.refusal}`);
  if (approved.kind !== fresh.kind || approved.cluster !== fresh.cluster) {
    out.push(
      `the plan is now ${fresh.kind} on ${fresh.cluster}, not ${approved.kind} on ${approved.cluster}`,
    );
  }
  if (canonicalJson(approved.args) !== canonicalJson(fresh.args)) {
    out.push(`arguments were ${canonicalJson(approved.args)}, now ${canonicalJson(fresh.args)}`);
  }
  const before = new Map(approved.preconditions.map((p) => [p.check, p]));
  const now = new Map(fresh.preconditions.map((p) => [p.check, p]));
  for (const [check, p] of now) {
    const b = before.get(check);
    if (!p.ok) out.push(`precondition "${check}" does not hold: ${p.detail}`);
    else if (b === undefined) out.push(`new precondition "${check}": ${p.detail}`);
    else if (!b.ok) out.push(`precondition "${check}" holds now but did not when approved: ${p.detail}`);
    else if (b.detail !== p.detail) out.push(`precondition "${check}": was "${b.detail}", now "${p.detail}"`);
  }
  for (const check of before.keys()) {
    if (!now.has(check)) out.push(`precondition "${check}" is no longer checked`);
  }
  if (approved.steps.length !== fresh.steps.length) {
    out.push(`the plan now has ${fresh.steps.length} steps, not ${approved.steps.length}`);
  }
  const n = Math.min(approved.steps.length, fresh.steps.length);
  for (let i = 0; i < n; i++) {
    const a = approved.steps[i]!;
    const f = fresh.steps[i]!;
    if (canonicalJson(a) !== canonicalJson(f)) {
      out.push(`step ${i + 1} was "${describeStep(a)}", now "${describeStep(f)}"`);
    }
  }
  if (canonicalJson(approved.expected) !== canonicalJson(fresh.expected)) {
    out.push(`expected result was ${canonicalJson(approved.expected)}, now ${canonicalJson(fresh.expected)}`);
  }
  return out;
}
