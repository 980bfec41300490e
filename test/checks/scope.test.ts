/** snapshot.scope.channel, extra checks and a check that throws. */
import { describe, expect, it } from 'vitest';
import { runChecks, type CheckFn } from '../../src/checks/index.js';
import type { Finding } from '../../src/model/index.js';
import { addTopic, setBrokerConfig, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const subjects = (f: Finding[]) => f.map((x) => `${x.code} ${JSON.stringify(x.subject)}`);

describe('scope: one channel', () => {
  it("keeps the channel's partition findings and cluster-wide ones, drops other topics", () => {
    const s = snap((s) => {
      s.scope = { channel: 'pubchain' };
      setPartition(s, 'pubchain', 0, { isr: [2, 3] });
      setPartition(s, 'testchainid', 0, { isr: [1] });
      s.zookeeper!.controller = null;
    });
    expect(subjects(runChecks(s))).toEqual([
      'CONTROLLER_MISSING {}',
      'AT_MIN_ISR {"topic":"pubchain","partition":0}',
    ]);
  });

  it('keeps broker findings only for brokers that hold a replica of the channel (or the controller)', () => {
    const s = snap((s) => {
      s.scope = { channel: 'testchainid' }; // replicas 1,2,3
      stopBroker(s, 4);
    });
    expect(runChecks(s)).toEqual([]);
    const t = snap((s) => {
      s.scope = { channel: 'pubchain' }; // replicas 2,3,4
      stopBroker(s, 4);
    });
    expect(subjects(runChecks(t))).toEqual([
      'BROKER_NOT_REGISTERED {"broker":4}',
      'AT_MIN_ISR {"topic":"pubchain","partition":0}',
    ]);
  });

  it('config findings of other topics go; a broker default that the channel inherits stays', () => {
    const s = snap((s) => {
      s.scope = { channel: 'pubchain' };
      addTopic(s, 'solo', 1, 1);
      setBrokerConfig(s, 'unclean.leader.election.enable', 'true');
    });
    expect(subjects(runChecks(s))).toEqual(['CONFIG_UNCLEAN_ELECTION {}']);
  });

  it('extra checks are filtered too', () => {
    const s = snap((s) => {
      s.scope = { channel: 'pubchain' };
    });
    const orderer: CheckFn = () => [
      {
        code: 'ORDERERS_DISAGREE',
        severity: 'warning',
        subject: { channel: 'testchainid' },
        summary: 'x',
        evidence: {},
        repairs: [],
      },
      {
        code: 'ORDERERS_DISAGREE',
        severity: 'warning',
        subject: { channel: 'pubchain' },
        summary: 'y',
        evidence: {},
        repairs: [],
      },
    ];
    expect(subjects(runChecks(s, { extraChecks: [orderer] }))).toEqual([
      'ORDERERS_DISAGREE {"channel":"pubchain"}',
    ]);
  });
});

describe('runChecks', () => {
  it('runs extra checks after the core ones and sorts everything worst first', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { isr: [2, 3] }));
    const extra: CheckFn = (snapshot) => [
      {
        code: 'ORDERER_OFFSET_AHEAD',
        severity: 'critical',
        subject: { orderer: 'orderer1.example.com', channel: 'pubchain' },
        summary: `seen ${snapshot.cluster}`,
        evidence: { x: 1 },
        repairs: [],
      },
    ];
    expect(subjects(runChecks(s, { extraChecks: [extra] }))).toEqual([
      'ORDERER_OFFSET_AHEAD {"orderer":"orderer1.example.com","channel":"pubchain"}',
      'AT_MIN_ISR {"topic":"pubchain","partition":0}',
    ]);
  });

  it('a check that throws becomes a warning and the others still run', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { isr: [2, 3] }));
    const broken: CheckFn = function containerChecks() {
      throw new Error('boom');
    };
    const f = runChecks(s, { extraChecks: [broken] });
    expect(subjects(f)).toEqual([
      'AT_MIN_ISR {"topic":"pubchain","partition":0}',
      'SOURCE_UNAVAILABLE {"source":"check:containerChecks"}',
    ]);
    expect(f[1]!.summary).toMatch(/containerChecks check failed \(boom\)/);
  });

  it('removes exact duplicates', () => {
    const s = snap();
    const dup: Finding = {
      code: 'CONFIG_FLUSH',
      severity: 'info',
      subject: {},
      summary: 'same',
      evidence: {},
      repairs: [],
    };
    expect(runChecks(s, { extraChecks: [() => [dup], () => [{ ...dup }]] })).toHaveLength(1);
  });

  it('checks a changed snapshot afresh (no stale index between runs)', () => {
    const s = snap();
    expect(runChecks(s)).toEqual([]);
    stopBroker(s, 4);
    expect(runChecks(s).map((f) => f.code)).toContain('BROKER_NOT_REGISTERED');
  });
});
