import { describe, expect, it } from 'vitest';
import { CORE_CHECKS, runChecks } from '../../src/checks/index.js';
import { FINDING_CODES, SEVERITY_RANK } from '../../src/model/index.js';
import { healthy } from '../fixtures/snapshots/builder.js';
import { NOT_MINE, SCENARIOS } from './scenarios.js';

describe('every finding code', () => {
  it('has a scenario (except the orderer and container codes)', () => {
    const missing = FINDING_CODES.filter((c) => !NOT_MINE.includes(c) && SCENARIOS[c] === undefined);
    expect(missing).toEqual([]);
  });

  for (const code of FINDING_CODES.filter((c) => !NOT_MINE.includes(c))) {
    it(`${code} fires in its scenario, with a summary, evidence and a known severity`, () => {
      const findings = runChecks(SCENARIOS[code]!());
      const hit = findings.filter((f) => f.code === code);
      expect(hit.length, JSON.stringify(findings.map((f) => f.code))).toBeGreaterThan(0);
      for (const f of hit) {
        expect(f.summary.length).toBeGreaterThan(10);
        expect(f.summary).not.toContain('\n');
        expect(Object.keys(f.evidence).length).toBeGreaterThan(0);
        expect(['critical', 'warning', 'info']).toContain(f.severity);
      }
    });
  }

  it('stays silent on the healthy cluster: no finding at all', () => {
    expect(runChecks(healthy())).toEqual([]);
  });

  it('each core check alone is silent on the healthy cluster', () => {
    const s = healthy();
    for (const c of CORE_CHECKS) expect(c.run(s, {}), c.name).toEqual([]);
  });

  it('uses the severities of the contract table', () => {
    const expected: Record<string, string[]> = {
      ZK_QUORUM: ['warning'],
      CONTROLLER_MISSING: ['critical'],
      BROKER_NOT_REGISTERED: ['critical'],
      BROKER_UNREACHABLE: ['critical'],
      METADATA_DIVERGENCE: ['critical'],
      PARTITION_OFFLINE: ['critical'],
      UNDER_MIN_ISR: ['critical'],
      AT_MIN_ISR: ['warning'],
      UNDER_REPLICATED: ['warning'],
      SINGLE_REPLICA: ['warning'],
      CONFIG_UNCLEAN_ELECTION: ['critical'],
      CONFIG_MIN_ISR: ['warning'],
      CONFIG_REPLICATION: ['warning'],
      CONFIG_RETENTION: ['critical'],
      CONFIG_MESSAGE_SIZE: ['warning'],
      CONFIG_FLUSH: ['info'],
    };
    for (const [code, severities] of Object.entries(expected)) {
      const build = SCENARIOS[code as keyof typeof SCENARIOS]!;
      const got = runChecks(build()).filter((f) => f.code === code);
      for (const f of got) expect(severities, `${code}: ${f.summary}`).toContain(f.severity);
    }
  });

  it('sorts worst first', () => {
    const findings = runChecks(SCENARIOS.PARTITION_OFFLINE!());
    const ranks = findings.map((f) => SEVERITY_RANK[f.severity]);
    expect(ranks).toEqual([...ranks].sort((a, b) => b - a));
  });
});
