import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { Finding, RepairPlan, Report, Severity } from '../../src/model/index.js';
import {
  ACTIONS,
  changesBlocks,
  checkBlockLimits,
  helpText,
  incidentBlocks,
  partitionsWorstFirst,
  planBlocks,
  reportBlocks,
  SLACK_LIMITS,
  type KnownBlock,
  type RepairButtonValue,
} from '../../src/slack/blocks.js';
import { bigReport, finding, pubchainReport } from './fixtures.js';

function allText(blocks: readonly KnownBlock[]): string {
  return JSON.stringify(blocks);
}

function buttons(
  blocks: readonly KnownBlock[],
): { action_id?: string; value?: string; text: { text: string } }[] {
  const out: { action_id?: string; value?: string; text: { text: string } }[] = [];
  for (const b of blocks) {
    if (b.type === 'section' && b.accessory?.type === 'button') out.push(b.accessory);
    if (b.type === 'actions') for (const e of b.elements) if (e.type === 'button') out.push(e);
  }
  return out;
}

describe('reportBlocks', () => {
  it('keeps a 10,000-partition report within Slack limits, worst first, and says what it left out', () => {
    const report = bigReport(10_000);
    const t0 = performance.now();
    const msg = reportBlocks(report);
    const ms = performance.now() - t0;
    expect(checkBlockLimits(msg.blocks)).toEqual([]);
    expect(msg.blocks.length).toBeLessThanOrEqual(SLACK_LIMITS.blocks);
    expect(ms).toBeLessThan(2000);
    const text = allText(msg.blocks);
    // The table starts with offline partitions, then states in order of badness.
    const firstTable = msg.blocks.find((b) => b.type === 'section' && b.text?.text.includes('TOPIC'));
    expect(firstTable).toBeDefined();
    const rows = (firstTable as { text: { text: string } }).text.text
      .split('\n')
      .filter((l) => /OFFLINE|OK|UNDER/.test(l));
    expect(rows[0]).toContain('OFFLINE');
    expect(text).toContain('10,000 partitions, worst first');
    expect(text).toMatch(/not shown/);
    // Critical findings come before warnings; the info finding is still accounted for.
    const crit = text.indexOf('PARTITION_OFFLINE');
    const warn = text.indexOf('UNDER_REPLICATED');
    expect(crit).toBeGreaterThan(-1);
    expect(warn).toBeGreaterThan(crit);
    expect(text).toContain('CONFIG_FLUSH');
    expect(msg.text.length).toBeLessThan(300);
    expect(msg.text).toContain('CRITICAL');
  });

  it('has a repair_request button carrying {cluster, kind, args} for a finding with a repair', () => {
    const msg = reportBlocks(pubchainReport());
    expect(checkBlockLimits(msg.blocks)).toEqual([]);
    const b = buttons(msg.blocks).filter((x) => x.action_id === ACTIONS.repairRequest);
    expect(b).toHaveLength(1);
    const value = JSON.parse(b[0]!.value!) as RepairButtonValue;
    expect(value).toEqual({ cluster: 'lab', kind: 'pad-channel', args: { channel: 'pubchain' } });
    const text = allText(msg.blocks);
    expect(text).toContain('ORDERER_OFFSET_AHEAD');
    expect(text).toContain('AHEAD'); // orderer table state
    expect(text).toContain('/fabric repair pad-channel channel=pubchain');
  });

  it('renders an empty report and the brokers view', () => {
    const empty: Report = { ...pubchainReport(), partitions: [], orderers: [], findings: [], brokers: [] };
    expect(checkBlockLimits(reportBlocks(empty).blocks)).toEqual([]);
    expect(allText(reportBlocks(empty).blocks)).toContain('No findings');
    const brokers = reportBlocks(bigReport(500), { view: 'brokers' });
    expect(checkBlockLimits(brokers.blocks)).toEqual([]);
    expect(allText(brokers.blocks)).toContain('REACHABLE');
    expect(allText(brokers.blocks)).not.toContain('UNDER_REPLICATED');
  });

  it('escapes Slack control characters from cluster data', () => {
    const r = pubchainReport();
    r.findings[0]!.summary = 'a <!channel> & <@U1> ping';
    const text = allText(reportBlocks(r).blocks);
    expect(text).not.toContain('<!channel>');
    expect(text).toContain('&lt;!channel&gt;');
  });

  it('stays within limits for any report (property)', () => {
    const sev = fc.constantFrom<Severity>('critical', 'warning', 'info');
    const code = fc.constantFrom(
      'UNDER_REPLICATED',
      'PARTITION_OFFLINE',
      'ZK_QUORUM',
      'CONFIG_FLUSH',
      'ORDERER_LOG_ERROR',
    );
    const str = fc.string({ maxLength: 4000, unit: 'grapheme' });
    const findingArb: fc.Arbitrary<Finding> = fc.record({
      code: code as fc.Arbitrary<Finding['code']>,
      severity: sev,
      subject: fc.record({
        topic: fc.option(str, { nil: undefined }),
        broker: fc.option(fc.nat(), { nil: undefined }),
      }),
      summary: str,
      explanation: fc.option(str, { nil: undefined }),
      evidence: fc.dictionary(fc.string({ maxLength: 20 }), str, { maxKeys: 5 }),
      repairs: fc.array(
        fc.record({
          kind: fc.string({ minLength: 1, maxLength: 40 }),
          args: fc.dictionary(fc.string({ maxLength: 20 }), fc.oneof(str, fc.integer()), { maxKeys: 4 }),
          title: str,
        }),
        { maxLength: 4 },
      ),
    });
    const partitionArb = fc.record({
      topic: fc.string({ maxLength: 300 }),
      partition: fc.nat(1000),
      leader: fc.option(fc.nat(10), { nil: null }),
      replicas: fc.array(fc.nat(10), { maxLength: 6 }),
      isr: fc.array(fc.nat(10), { maxLength: 6 }),
      minIsr: fc.option(fc.nat(4), { nil: null }),
      highWatermark: fc.option(fc.nat(), { nil: null }),
      logStartOffset: fc.option(fc.nat(), { nil: null }),
    });
    fc.assert(
      fc.property(
        fc.array(findingArb, { maxLength: 120 }),
        fc.array(partitionArb, { maxLength: 300 }),
        fc.string({ maxLength: 300 }),
        (findings, partitions, cluster) => {
          const r: Report = { ...pubchainReport(), cluster, findings, partitions };
          for (const view of ['full', 'brokers'] as const) {
            const msg = reportBlocks(r, { view, footer: cluster });
            expect(checkBlockLimits(msg.blocks)).toEqual([]);
          }
        },
      ),
      { numRuns: 150 },
    );
  });
});

describe('partitionsWorstFirst', () => {
  it('orders offline, under min ISR, at min ISR, under-replicated, then healthy', () => {
    const p = (partition: number, leader: number | null, isr: number[]) => ({
      topic: 't',
      partition,
      leader,
      replicas: [1, 2, 3],
      isr,
      minIsr: 2,
      highWatermark: 0,
      logStartOffset: 0,
    });
    const sorted = partitionsWorstFirst([p(0, 1, [1, 2, 3]), p(1, 1, [1, 2]), p(2, 1, [1]), p(3, null, [])]);
    expect(sorted.map((x) => x.partition)).toEqual([3, 2, 1, 0]);
  });
});

describe('planBlocks', () => {
  const plan: RepairPlan = {
    kind: 'pad-channel',
    cluster: 'lab',
    args: { channel: 'pubchain' },
    preconditions: [{ check: 'orderers agree', ok: true, detail: '3 orderers expect offset 21' }],
    steps: [
      { action: 'produce', topic: 'pubchain', partition: 0, count: 7, value: '1a00', key: '0' },
      { action: 'restart-container', container: 'orderer1.example.com', optional: true },
    ],
    expected: { highWatermark: 21 },
    refusal: null,
  };

  it('has Approve and Deny buttons whose value is the request id', () => {
    const msg = planBlocks(plan, { requestId: 'rq-123', requestedBy: 'U1' });
    expect(checkBlockLimits(msg.blocks)).toEqual([]);
    const b = buttons(msg.blocks);
    expect(b.map((x) => [x.action_id, x.value])).toEqual([
      [ACTIONS.repairApprove, 'rq-123'],
      [ACTIONS.repairDeny, 'rq-123'],
    ]);
    expect(allText(msg.blocks)).toContain('produce 7 CONNECT messages to pubchain/0');
  });

  it('offers no buttons for a refused plan, and fits with thousands of steps', () => {
    const refused = { ...plan, refusal: 'orderers disagree' };
    expect(buttons(planBlocks(refused, { requestId: 'rq-1' }).blocks)).toHaveLength(0);
    const huge: RepairPlan = {
      ...plan,
      steps: Array.from({ length: 5000 }, (_, i) => ({
        action: 'wait' as const,
        for: `thing ${i}`,
        timeoutMs: 1000,
      })),
      preconditions: Array.from({ length: 500 }, (_, i) => ({
        check: `c${i}`,
        ok: i % 2 === 0,
        detail: 'd'.repeat(300),
      })),
    };
    expect(checkBlockLimits(planBlocks(huge, { requestId: 'rq-2' }).blocks)).toEqual([]);
  });
});

describe('incidents, changes, help', () => {
  it('renders open and resolved incidents', () => {
    const f = pubchainReport().findings[0]!;
    const open = incidentBlocks({ cluster: 'lab', finding: f, openedAt: 't0', lastSeenAt: 't1' });
    expect(checkBlockLimits(open.blocks)).toEqual([]);
    expect(allText(open.blocks)).toContain('INCIDENT');
    const closed = incidentBlocks({
      cluster: 'lab',
      finding: f,
      openedAt: 't0',
      lastSeenAt: 't1',
      resolvedAt: 't2',
    });
    expect(allText(closed.blocks)).toContain('RESOLVED');
    expect(buttons(closed.blocks)).toHaveLength(0);
  });

  it('fits thousands of changes', () => {
    const changes = Array.from({ length: 3000 }, (_, i) => ({
      change: (['new', 'changed', 'cleared'] as const)[i % 3]!,
      finding: finding({
        code: 'UNDER_REPLICATED',
        severity: 'warning',
        subject: { topic: 't', partition: i },
      }),
    }));
    const msg = changesBlocks('lab', changes);
    expect(checkBlockLimits(msg.blocks)).toEqual([]);
    expect(msg.text).toBe('lab: 1000 new, 1000 changed, 1000 cleared');
  });

  it('lists only what a role allows', () => {
    expect(helpText('viewer', ['lab'])).not.toContain('/fabric repair');
    expect(helpText('viewer', ['lab'])).toContain('/fabric status &lt;channel&gt;');
    expect(helpText('operator', ['lab'])).toContain('/fabric repair');
    expect(helpText('operator', ['lab'])).not.toContain('Approve or deny repair plans');
    expect(helpText('approver', ['lab'])).toContain('Approve or deny repair plans');
    expect(helpText('none', ['lab'])).not.toContain('/fabric status');
  });
});
