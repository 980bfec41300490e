/** ZK_QUORUM and CONTROLLER_MISSING: the ensemble and the controller it elects. */
import type { ClusterSnapshot, Finding, ZkMemberStatus } from '../model/index.js';
import { indexSnapshot, type CheckContext } from './context.js';
import { andList, plural } from './words.js';

const ENSEMBLE = 'ensemble';

/** Each ensemble member's status: from the members' own answers, else from the ZooKeeper view. */
export function zookeeperMembers(snapshot: ClusterSnapshot): ZkMemberStatus[] {
  return snapshot.zookeeperMembers ?? snapshot.zookeeper?.members ?? [];
}

export function zookeeperQuorumChecks(snapshot: ClusterSnapshot, _ctx: CheckContext = {}): Finding[] {
  // Members answer four-letter words even when no session can be had (a lost quorum): prefer those answers.
  const members = zookeeperMembers(snapshot);
  if (members.length === 0) return [];
  const findings: Finding[] = [];
  const n = members.length;
  const majority = Math.floor(n / 2) + 1;
  const up = members.filter((m) => m.ok);
  const down = members.filter((m) => !m.ok);
  const evidence = {
    members: members.map((m) => ({
      address: m.address,
      ok: m.ok,
      ...(m.mode !== undefined ? { mode: m.mode } : {}),
      ...(m.error !== undefined ? { error: m.error } : {}),
    })),
    up: up.length,
    size: n,
    quorum: majority,
  };

  if (up.length < majority) {
    findings.push({
      code: 'ZK_QUORUM',
      severity: 'critical',
      subject: { zookeeper: ENSEMBLE },
      summary:
        `ZooKeeper has lost quorum: ${up.length} of ${n} members up, ${majority} needed ` +
        `(down: ${andList(down.map((m) => `${m.address}${m.error ? ` (${m.error})` : ''}`))})`,
      explanation:
        'Without a quorum ZooKeeper serves no reads or writes: brokers lose their sessions, no controller can be ' +
        'elected and no leader can change. Bring members back until a majority runs; start them before ' +
        'touching Kafka (start order ZooKeeper -> Kafka -> orderers).',
      evidence,
      repairs: [],
    });
    return findings;
  }

  for (const m of down) {
    const last = up.length === majority;
    findings.push({
      code: 'ZK_QUORUM',
      severity: 'warning',
      subject: { zookeeper: m.address },
      summary:
        `ZooKeeper member ${m.address} is down${m.error ? ` (${m.error})` : ''}: ${up.length} of ${n} up` +
        (last ? ', one more loss and the ensemble loses quorum' : ', quorum holds'),
      explanation:
        `The ensemble needs ${majority} of ${n} members to serve. ` +
        (last
          ? 'It has no failure left to absorb: bring this member back before any maintenance on the others.'
          : 'Bring this member back to restore the margin.'),
      evidence: { ...evidence, member: m.address },
      repairs: [],
    });
  }

  // Leader: only when every member that answered told us its mode.
  const modes = up.map((m) => m.mode);
  if (up.length > 0 && modes.every((m) => m !== undefined && m !== 'unknown')) {
    const leaders = up.filter((m) => m.mode === 'leader' || (n === 1 && m.mode === 'standalone'));
    const standalone = n > 1 ? up.filter((m) => m.mode === 'standalone') : [];
    if (leaders.length === 0) {
      findings.push({
        code: 'ZK_QUORUM',
        severity: 'critical',
        subject: { zookeeper: ENSEMBLE },
        summary: `ZooKeeper has no leader: ${andList(up.map((m) => `${m.address} is ${m.mode}`))}`,
        explanation:
          'An ensemble without a leader is electing one or cannot: it serves no requests meanwhile. If this ' +
          "lasts, check the members' logs and that they can reach each other on the quorum and election ports.",
        evidence,
        repairs: [],
      });
    } else if (leaders.length > 1) {
      findings.push({
        code: 'ZK_QUORUM',
        severity: 'critical',
        subject: { zookeeper: ENSEMBLE },
        summary: `ZooKeeper reports ${leaders.length} leaders: ${andList(leaders.map((m) => m.address))}`,
        explanation:
          'The members do not form one ensemble (different server lists in zoo.cfg?). Brokers connected to ' +
          'different halves see different clusters. Make every zoo.cfg list the same servers.',
        evidence,
        repairs: [],
      });
    }
    for (const m of standalone) {
      findings.push({
        code: 'ZK_QUORUM',
        severity: 'warning',
        subject: { zookeeper: m.address },
        summary: `ZooKeeper member ${m.address} runs standalone, outside the ensemble of ${n}`,
        explanation:
          'A standalone server has its own data: brokers connected to it see a different cluster. Its zoo.cfg ' +
          'lacks the server.N lines of the ensemble.',
        evidence: { ...evidence, member: m.address },
        repairs: [],
      });
    }
  }

  if (n === 1 || n === 2) {
    findings.push({
      code: 'ZK_QUORUM',
      severity: 'warning',
      subject: { zookeeper: ENSEMBLE },
      summary: `ZooKeeper has ${plural(n, 'member')}: losing one stops it (Fabric recommends 3, 5 or 7)`,
      explanation:
        'An ensemble of Z members survives floor((Z-1)/2) failures. With fewer than 3 a single failure stops ' +
        'ZooKeeper, and with it every leader change in Kafka.',
      evidence,
      repairs: [],
    });
  } else if (n % 2 === 0) {
    findings.push({
      code: 'ZK_QUORUM',
      severity: 'warning',
      subject: { zookeeper: ENSEMBLE },
      summary: `ZooKeeper has ${n} members, an even number: it survives no more failures than ${n - 1} would`,
      explanation:
        `${n} members need ${majority} for a quorum, so they tolerate ${n - majority} failure(s), like ${n - 1} ` +
        'members, with one more machine that can fail. Fabric recommends 3, 5 or 7.',
      evidence,
      repairs: [],
    });
  }
  return findings;
}

export function controllerChecks(snapshot: ClusterSnapshot, ctx: CheckContext = {}): Finding[] {
  const ix = indexSnapshot(snapshot, ctx);
  const zk = snapshot.zookeeper;
  const explanation =
    'The controller elects partition leaders when a broker fails and pushes metadata to every broker. Without ' +
    'one, a partition whose leader dies stays offline and brokers keep stale metadata. A broker becomes ' +
    "controller when it creates /controller: check the brokers' logs for ZooKeeper session errors; restarting " +
    'one broker forces an election.';
  if (zk) {
    if (zk.controller === null) {
      return [
        {
          code: 'CONTROLLER_MISSING',
          severity: 'critical',
          subject: {},
          summary: `No active Kafka controller: /controller does not exist in ZooKeeper`,
          explanation,
          evidence: { controller: null, registered: [...ix.registrations.keys()].sort((a, b) => a - b) },
          repairs: [],
        },
      ];
    }
    const id = zk.controller.brokerId;
    if (!ix.isLive(id)) {
      return [
        {
          code: 'CONTROLLER_MISSING',
          severity: 'critical',
          subject: { broker: id },
          summary: `The controller is broker ${id}, which is not registered in /brokers/ids: no live controller`,
          explanation,
          evidence: { controller: id, registered: [...ix.registrations.keys()].sort((a, b) => a - b) },
          repairs: [],
        },
      ];
    }
    return [];
  }
  // Without ZooKeeper: only when every broker that answered says outright that it knows no controller.
  const said = ix.okViews.filter((v) => v.controllerId !== undefined);
  if (said.length > 0 && said.every((v) => v.controllerId === -1)) {
    return [
      {
        code: 'CONTROLLER_MISSING',
        severity: 'critical',
        subject: {},
        summary: `No active Kafka controller: ${plural(said.length, 'broker')} answered controller -1`,
        explanation,
        evidence: {
          controllerIds: Object.fromEntries(said.map((v) => [v.brokerId ?? v.address, v.controllerId])),
        },
        repairs: [],
      },
    ];
  }
  return [];
}
