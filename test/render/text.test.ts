import { describe, expect, it } from 'vitest';
import { runChecks, whatIfStopBroker } from '../../src/checks/index.js';
import { buildReport } from '../../src/render/report.js';
import { renderText, renderWhatIf, wrap } from '../../src/render/text.js';
import { reportView } from '../../src/render/view.js';
import { addTopic, healthy, large, setPartition, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const ANSI = new RegExp(String.fromCharCode(27) + '\\[');
const text = (s = healthy(), color = false) => renderText(buildReport(s, runChecks(s)), { color });

describe('renderText', () => {
  it('header: cluster, time, controller, sources with ms and what failed', () => {
    const out = text(
      snap((s) => {
        s.sources.docker = { ok: false, error: 'connect ENOENT /var/run/docker.sock' };
      }),
    );
    const lines = out.split('\n');
    expect(lines[0]).toBe('fabric-opsbot: cluster lab at 2026-11-21 10:00:00Z');
    expect(lines[1]).toBe('Controller: broker 1   Brokers: 1 2 3 4');
    expect(lines[2]).toBe(
      'Sources: kafka ok (14 ms), zookeeper ok (6 ms), docker FAILED (connect ENOENT /var/run/docker.sock)',
    );
    expect(lines[3]).toMatch(/^Result: WARNING: 0 critical, 1 warning, 0 info/);
  });

  it('a healthy cluster: tables with leader, replicas, ISR, HW and log start; orderers beside; no findings', () => {
    const out = text();
    expect(out).toContain('Result: OK: no findings');
    expect(out).toMatch(/Topic pubchain \(channel\): 1 partition, RF 3, min ISR 2\n/);
    expect(out).toMatch(/PART {2}LEADER {2}REPLICAS {2}ISR {4}MIN ISR {2}HIGH WATERMARK {2}LOG START/);
    expect(out).toMatch(/\n {2}0 {5}2 {7}2 3 4 {5}2 3 4 {2}2 {8}32 {14}0\n/);
    expect(out).toContain(
      'orderer orderer1.example.com: expects offset 21 (last persisted 20, height 9, from metrics)',
    );
    expect(out).toContain('No findings.');
    expect(out).not.toMatch(ANSI);
  });

  it('marks out-of-sync replicas, brokers not registered and missing leaders, with a legend', () => {
    const out = text(
      snap((s) => {
        setPartition(s, 'testchainid', 0, { isr: [1, 2] });
        addTopic(s, 'solo', 1, 1, { brokers: [4] });
        stopBroker(s, 4);
      }),
    );
    expect(out).toMatch(/\n {2}0 +1 +1 2 3\* +1 2 /); // testchainid: 3 out of sync
    expect(out).toMatch(/\n {2}0 +2 +2 3 4! +2 3 /); // pubchain: 4 not registered
    expect(out).toMatch(/\n {2}0 +NONE +4! +4 /); // solo: no leader
    expect(out).toContain('* out of sync   ! broker not registered   NONE no leader');
  });

  it('findings grouped by severity, worst first, with explanation and suggested repairs', () => {
    const out = text(
      snap((s) => {
        addTopic(s, 'solo', 1, 1, { brokers: [4] });
        stopBroker(s, 4);
      }),
    );
    const critical = out.indexOf('CRITICAL (');
    const warning = out.indexOf('WARNING (');
    expect(critical).toBeGreaterThan(0);
    expect(warning).toBeGreaterThan(critical);
    expect(out).toMatch(/ {2}PARTITION_OFFLINE {2}solo\/0 is offline: its only replica, broker 4, is down/);
    expect(out).toMatch(/-> Raise solo's replication factor to 3 \[raise-replication topic=solo\]/);
    expect(out).toMatch(/With one replica there is no failover/);
  });

  it('stays within 100 columns for prose', () => {
    const out = text(
      snap((s) => {
        addTopic(s, 'solo', 1, 1, { brokers: [4] });
        stopBroker(s, 4);
        s.sources.docker = { ok: false, error: 'connect ENOENT /var/run/docker.sock' };
      }),
    );
    const long = out.split('\n').filter((l) => l.length > 100);
    expect(long).toEqual([]);
  });

  it('orderer past the high watermark or below the log start is marked', () => {
    const out = text(
      snap((s) => {
        s.orderers!.positions[0]!.expectedStartOffset = 40;
        s.kafka!.offsets[1]!.logStartOffset = 200;
      }),
    );
    expect(out).toMatch(/expects offset 40 .* PAST THE HIGH WATERMARK/);
    expect(out).toMatch(/expects offset 119 .* BELOW THE LOG START OFFSET/);
  });

  it('colour only when asked', () => {
    const s = snap((s) => setPartition(s, 'pubchain', 0, { isr: [2] }));
    expect(text(s, false)).not.toMatch(ANSI);
    const coloured = text(s, true);
    expect(coloured).toMatch(ANSI);
    expect(coloured).toContain('\u001b[31m'); // red for critical
  });

  it('thousands of partitions: healthy topics one line each, a line that says so', () => {
    const s = large(100, 100);
    const out = text(s);
    expect(out).toContain(
      '10002 partitions in 102 topics: 100 listed one line each (100 healthy), 2 in detail',
    );
    expect(out).toMatch(/Topic pubchain \(channel\)[^\n]*\n[^\n]*\n {2}0 +2 +2 3 4 /);
    expect(out).toMatch(/\n {2}bulk-0000 {2}100 partitions, RF 3, min ISR 2: all in sync\n/);
    expect(out.split('\n').length).toBeLessThan(150);
  });

  it('thousands of unhealthy partitions: bounded output', () => {
    const s = large(100, 100);
    stopBroker(s, 3);
    const out = text(s);
    expect(out).toMatch(/bulk-0000 {2}100 partitions, RF 3, min ISR 2: 75 not fully in sync/);
    expect(out).toMatch(/7500 partitions in 100 topics at min.insync.replicas/);
    expect(out.split('\n').length).toBeLessThan(250);
  });

  it('an unhealthy big topic with a critical problem gets a capped table', () => {
    const s = large(3, 100);
    addTopic(s, 'solo', 30, 1, { brokers: [4] });
    stopBroker(s, 4);
    const v = reportView(buildReport(s, runChecks(s)));
    const solo = v.detailed.find((t) => t.topic === 'solo')!;
    expect(solo.rows).toHaveLength(20);
    expect(solo.hiddenUnhealthy).toBe(10);
    expect(text(s)).toContain('... and 10 more unhealthy partitions not shown');
  });
});

describe('renderWhatIf', () => {
  it('safe', () => {
    const out = renderWhatIf(whatIfStopBroker(healthy(), 2), { color: false });
    expect(out).toMatch(
      /^What if broker 2 stops\? \(cluster lab\)\nSAFE {2}\(registered, 2 replicas on it\)/,
    );
    expect(out).toContain('Would move their leader (1)\n  pubchain/0  new leader 3');
    expect(out).toContain('Would be left at min.insync.replicas (2)');
  });

  it('not safe: lists what goes offline and suggests draining', () => {
    const s = snap((s) => addTopic(s, 'solo', 1, 1, { brokers: [3] }));
    const out = renderWhatIf(whatIfStopBroker(s, 3), { color: true });
    expect(out).toMatch(ANSI);
    const plain = renderWhatIf(whatIfStopBroker(s, 3), { color: false });
    expect(plain).toMatch(/NOT SAFE/);
    expect(plain).toContain(
      'Would go offline (1)\n  solo/0  broker 3 is its only replica (replication factor 1)',
    );
    expect(plain).toContain(
      '-> Move every partition replica off broker 3 before stopping it [drain-broker broker=3]',
    );
  });
});

describe('wrap', () => {
  it('wraps words at the width with a hanging indent', () => {
    expect(wrap('aaa bbb ccc ddd', 9, '  ', '- ')).toEqual(['- aaa bbb', '  ccc ddd']);
  });
});
