/** A repair plan for a terminal: preconditions, steps, expected end state, refusal. */
import type { RepairPlan, RepairStep } from '../model/index.js';

export function describeStep(step: RepairStep): string {
  const opt = step.optional ? ' (optional)' : '';
  switch (step.action) {
    case 'produce':
      return `produce ${step.count} message(s) to ${step.topic}/${step.partition}: value ${step.value}, key "${step.key}", acks=all${opt}`;
    case 'restart-container':
    case 'start-container':
    case 'stop-container':
      return `${step.action.replace('-container', '')} container ${step.container}${opt}`;
    case 'reassign-partitions':
      return `reassign ${step.partitions.length} partition(s)${step.throttleBytes ? ` throttled to ${step.throttleBytes} B/s` : ''}: ${step.partitions
        .slice(0, 5)
        .map((p) => `${p.topic}/${p.partition} -> [${p.replicas.join(',')}]`)
        .join(', ')}${step.partitions.length > 5 ? ', ...' : ''}${opt}`;
    case 'preferred-leader-election':
      return `preferred leader election for ${step.partitions.map((p) => `${p.topic}/${p.partition}`).join(', ')}${opt}`;
    case 'set-topic-config':
      return `set ${Object.entries(step.configs)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')} on topic ${step.topic}${opt}`;
    case 'wait':
      return `wait for ${step.for} (up to ${Math.round(step.timeoutMs / 1000)} s)${opt}`;
  }
}

export function renderPlan(plan: RepairPlan): string {
  const lines = [
    `repair ${plan.kind} on cluster ${plan.cluster} (${Object.entries(plan.args)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ')}): DRY RUN`,
  ];
  lines.push('', 'preconditions:');
  for (const p of plan.preconditions) lines.push(`  [${p.ok ? 'ok' : 'FAIL'}] ${p.check}: ${p.detail}`);
  lines.push('', 'steps:');
  if (plan.steps.length === 0) lines.push('  (none)');
  plan.steps.forEach((s, i) => lines.push(`  ${i + 1}. ${describeStep(s)}`));
  lines.push('', `expected: ${JSON.stringify(plan.expected)}`);
  if (plan.rollback) lines.push(`rollback: ${plan.rollback}`);
  lines.push('', plan.refusal === null ? 'verdict: may run after approval' : `REFUSED: ${plan.refusal}`);
  return `${lines.join('\n')}\n`;
}
