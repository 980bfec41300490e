/** Reports and inventories for the Slack tests (no cluster needed). */
import { parseInventory, type Inventory } from '../../src/config/index.js';
import type { Finding, Report, ReportPartition } from '../../src/model/index.js';

export const USERS = {
  viewer: 'UVIEWER1',
  operator: 'UOPERATOR1',
  approver: 'UAPPROVER1',
  approver2: 'UAPPROVER2',
  stranger: 'USTRANGER1',
} as const;

export function inventoryText(
  opts: { redisUrl?: string; incidentChannel?: string; everySeconds?: number } = {},
): string {
  return `
defaultCluster: lab
clusters:
  lab:
    kafka:
      brokers: ["127.0.0.1:19092"]
    zookeeper:
      connect: "127.0.0.1:12181"
    orderers:
      - name: orderer1.example.com
        channels: [testchainid, pubchain]
    checks:
      everySeconds: ${opts.everySeconds ?? 0}
  prod:
    kafka:
      brokers: ["10.0.0.1:9092"]
    zookeeper:
      connect: "10.0.0.1:2181"
    channels: [mychannel]
    checks:
      everySeconds: 0
redis:
  url: ${opts.redisUrl ?? 'redis://127.0.0.1:6379'}
  prefix: t
slack:
  mode: http
  incidentChannel: ${opts.incidentChannel ?? 'CINCIDENTS'}
  defaultRole: none
  users:
    ${USERS.viewer}: viewer
    ${USERS.operator}: operator
    ${USERS.approver}: approver
    ${USERS.approver2}: approver
`;
}

export function testInventory(opts: Parameters<typeof inventoryText>[0] = {}): Inventory {
  return parseInventory(inventoryText(opts), 'test-inventory.yaml');
}

export function finding(over: Partial<Finding> & Pick<Finding, 'code' | 'severity'>): Finding {
  return {
    subject: {},
    summary: `${over.code} happened`,
    evidence: {},
    repairs: [],
    ...over,
  };
}

/** A report of `partitions` partitions over `topics` topics; every 7th under-replicated, every 101st offline. */
export function bigReport(partitions: number, topics = 10): Report {
  const parts: ReportPartition[] = [];
  const findings: Finding[] = [];
  for (let i = 0; i < partitions; i++) {
    const topic = `channel-${String(i % topics).padStart(3, '0')}-with-a-rather-long-name`;
    const partition = Math.floor(i / topics);
    const offline = i % 101 === 0;
    const urp = !offline && i % 7 === 0;
    parts.push({
      topic,
      partition,
      leader: offline ? null : 1 + (i % 3),
      replicas: [1, 2, 3],
      isr: offline ? [] : urp ? [1, 2] : [1, 2, 3],
      minIsr: 2,
      highWatermark: 1000 + i,
      logStartOffset: 0,
    });
    if (offline) {
      findings.push(
        finding({
          code: 'PARTITION_OFFLINE',
          severity: 'critical',
          subject: { topic, partition },
          summary: `${topic}/${partition} has no live leader`,
          evidence: { replicas: [1, 2, 3], isr: [], note: 'x'.repeat(5000) },
          repairs: [
            {
              kind: 'preferred-leader-election',
              args: { topic, partition },
              title: `Trigger a leader election for ${topic}/${partition} ${'and more '.repeat(20)}`,
            },
          ],
        }),
      );
    } else if (urp) {
      findings.push(
        finding({
          code: 'AT_MIN_ISR',
          severity: 'warning',
          subject: { topic, partition },
          summary: `${topic}/${partition} is at min ISR`,
          evidence: { replicas: [1, 2, 3], isr: [1, 2] },
        }),
        finding({
          code: 'UNDER_REPLICATED',
          severity: 'warning',
          subject: { topic, partition },
          summary: `${topic}/${partition} has 2 of 3 replicas in sync (broker 3 out)`,
          evidence: { replicas: [1, 2, 3], isr: [1, 2] },
        }),
      );
    }
  }
  findings.push(finding({ code: 'CONFIG_FLUSH', severity: 'info', summary: 'unflushed writes can be lost' }));
  return {
    cluster: 'lab',
    generatedAt: '2026-11-21T10:00:00.000Z',
    scope: {},
    sources: {
      kafka: { ok: true, ms: 14 },
      zookeeper: { ok: true, ms: 6 },
      docker: { ok: false, error: 'no docker' },
    },
    controller: 1,
    brokers: [1, 2, 3, 4].map((id) => ({
      id,
      host: '127.0.0.1',
      port: 19091 + id,
      registered: true,
      reachable: true,
    })),
    partitions: parts,
    orderers: Array.from({ length: 30 }, (_, i) => ({
      name: `orderer${i}.example.com`,
      channel: `channel-${String(i % topics).padStart(3, '0')}-with-a-rather-long-name`,
      lastOffsetPersisted: 1000 + i,
      expectedStartOffset: 1001 + i + (i === 3 ? 500 : 0),
      source: 'metrics',
    })),
    findings,
  };
}

/** The small healthy-but-one report of `/fabric status pubchain`. */
export function pubchainReport(): Report {
  return {
    cluster: 'lab',
    generatedAt: '2026-11-21T10:00:00.000Z',
    scope: { channel: 'pubchain' },
    sources: { kafka: { ok: true, ms: 14 }, zookeeper: { ok: true, ms: 6 } },
    controller: 1,
    brokers: [{ id: 1, host: '127.0.0.1', port: 19092, registered: true, reachable: true }],
    partitions: [
      {
        topic: 'pubchain',
        partition: 0,
        leader: 1,
        replicas: [1, 2, 3],
        isr: [1, 2],
        minIsr: 2,
        highWatermark: 20,
        logStartOffset: 0,
      },
    ],
    orderers: [
      {
        name: 'orderer1',
        channel: 'pubchain',
        lastOffsetPersisted: 27,
        expectedStartOffset: 28,
        source: 'metrics',
      },
    ],
    findings: [
      finding({
        code: 'ORDERER_OFFSET_AHEAD',
        severity: 'critical',
        subject: { orderer: 'orderer1', channel: 'pubchain', topic: 'pubchain', partition: 0 },
        summary: 'orderer1 expects offset 28 of pubchain/0 but the high watermark is 20',
        evidence: { expectedStartOffset: 28, highWatermark: 20 },
        repairs: [
          {
            kind: 'pad-channel',
            args: { channel: 'pubchain' },
            title: 'Pad pubchain with 8 CONNECT messages',
          },
        ],
      }),
      finding({
        code: 'AT_MIN_ISR',
        severity: 'warning',
        subject: { topic: 'pubchain', partition: 0 },
        summary: 'pubchain/0 is at min ISR (2 of 3)',
      }),
    ],
  };
}
