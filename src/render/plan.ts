/** A repair plan for a terminal: preconditions, steps, expected end state, refusal. */
import type { RepairPlan } from '../model/index.js';
import { describeStep } from '../repairs/steps.js';

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
  plan.steps.forEach((s, i) => {
    lines.push(`  ${i + 1}. ${describeStep(s)}`);
    // A dry run shows exactly what would be written.
    if (s.action === 'produce')
      lines.push(`     value ${s.value}, key "${s.key}", partition ${s.partition}, acks=all`);
  });
  lines.push('', `expected: ${JSON.stringify(plan.expected)}`);
  if (plan.rollback) lines.push(`rollback: ${plan.rollback}`);
  lines.push('', plan.refusal === null ? 'verdict: may run after approval' : `REFUSED: ${plan.refusal}`);
  return `${lines.join('\n')}\n`;
}
