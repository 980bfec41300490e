/** ZooKeeper quorum, the controller, broker registration and reachability. */
import { describe, expect, it } from 'vitest';
import {
  brokerReachabilityChecks,
  brokerRegistrationChecks,
  controllerChecks,
  runChecks,
  zookeeperQuorumChecks,
} from '../../src/checks/index.js';
import type { ZkMemberStatus } from '../../src/model/index.js';
import { address, snap, stopBroker } from '../fixtures/snapshots/builder.js';

const member = (address: string, ok: boolean, mode?: ZkMemberStatus['mode']): ZkMemberStatus => ({
  address,
  ok,
  ...(mode !== undefined ? { mode } : {}),
  ...(ok ? {} : { error: 'connect ECONNREFUSED' }),
});

describe('ZK_QUORUM', () => {
  it('one member of three down: warning, one more loss loses quorum', () => {
    const s = snap((s) => {
      s.zookeeper!.members[0] = member('127.0.0.1:12181', false);
    });
    const f = zookeeperQuorumChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ severity: 'warning', subject: { zookeeper: '127.0.0.1:12181' } });
    expect(f[0]!.summary).toMatch(/2 of 3 up, one more loss and the ensemble loses quorum/);
  });

  it('quorum lost (from the members answers when no session could be had): critical', () => {
    const s = snap((s) => {
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'session timeout' };
      s.zookeeperMembers = [
        member('127.0.0.1:12181', false),
        member('127.0.0.1:12182', true, 'unknown'),
        member('127.0.0.1:12183', false),
      ];
    });
    const f = zookeeperQuorumChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]!.severity).toBe('critical');
    expect(f[0]!.summary).toMatch(/lost quorum: 1 of 3 members up, 2 needed/);
  });

  it('no leader among members that all answered: critical', () => {
    const s = snap((s) => {
      for (const m of s.zookeeper!.members) m.mode = 'follower';
    });
    const f = zookeeperQuorumChecks(s);
    expect(f.map((x) => x.severity)).toEqual(['critical']);
    expect(f[0]!.summary).toMatch(/no leader/);
  });

  it('unknown modes (srvr not whitelisted) are not read as "no leader"', () => {
    const s = snap((s) => {
      for (const m of s.zookeeper!.members) delete m.mode;
    });
    expect(zookeeperQuorumChecks(s)).toEqual([]);
    const info = runChecks(s).find((f) => f.code === 'SOURCE_UNAVAILABLE')!;
    expect(info.severity).toBe('info');
    expect(info.summary).toMatch(/4lw.commands.whitelist/);
  });

  it('an even-sized ensemble and a single server are warnings', () => {
    const even = snap((s) => {
      s.zookeeper!.members.push(member('127.0.0.1:12184', true, 'follower'));
    });
    expect(zookeeperQuorumChecks(even).map((f) => [f.severity, f.summary])).toEqual([
      ['warning', expect.stringMatching(/4 members, an even number/)],
    ]);
    const single = snap((s) => {
      s.zookeeper!.members = [member('127.0.0.1:12181', true, 'standalone')];
    });
    expect(zookeeperQuorumChecks(single).map((f) => f.summary)).toEqual([
      expect.stringMatching(/1 member: losing one stops it/),
    ]);
  });

  it('a standalone member inside an ensemble', () => {
    const s = snap((s) => {
      s.zookeeper!.members[0]!.mode = 'standalone';
    });
    expect(zookeeperQuorumChecks(s).map((f) => f.summary)).toEqual([
      expect.stringMatching(/runs standalone/),
    ]);
  });
});

describe('CONTROLLER_MISSING', () => {
  it('no /controller', () => {
    const s = snap((s) => {
      s.zookeeper!.controller = null;
    });
    const f = controllerChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ code: 'CONTROLLER_MISSING', severity: 'critical' });
  });

  it('/controller names a broker that is not registered', () => {
    const s = snap((s) => {
      s.zookeeper!.controller = { brokerId: 7 };
    });
    expect(controllerChecks(s)[0]!.summary).toMatch(/broker 7, which is not registered/);
  });

  it('without ZooKeeper, only when every broker says controller -1', () => {
    const none = snap((s) => {
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'x' };
      for (const v of s.kafka!.views) v.controllerId = -1;
    });
    expect(controllerChecks(none).map((f) => f.code)).toEqual(['CONTROLLER_MISSING']);
    const some = snap((s) => {
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'x' };
    });
    expect(controllerChecks(some)).toEqual([]);
  });
});

describe('BROKER_NOT_REGISTERED', () => {
  it('an inventory broker absent from /brokers/ids, with its container state when known', () => {
    const s = snap((s) => {
      stopBroker(s, 4);
      s.containers = [
        {
          name: 'kafka4',
          role: 'broker',
          runs: 4,
          endpoint: 'local',
          found: true,
          state: 'exited',
          running: false,
          restartCount: 3,
        },
      ];
    });
    const f = brokerRegistrationChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({
      code: 'BROKER_NOT_REGISTERED',
      severity: 'critical',
      subject: { broker: 4 },
    });
    expect(f[0]!.summary).toMatch(/\/brokers\/ids\/4 missing/);
    expect(f[0]!.summary).toMatch(/holds 1 replica/);
    expect(f[0]!.explanation).toMatch(/container kafka4 is exited \(restarted 3 times\)/);
    expect(f[0]!.repairs[0]).toMatchObject({
      kind: 'restart-container',
      args: { container: 'kafka4', broker: 4 },
    });
  });

  it('is not reported without ZooKeeper (absence of data is not absence of the broker)', () => {
    const s = snap((s) => {
      s.zookeeper = null;
      s.sources.zookeeper = { ok: false, error: 'x' };
    });
    expect(brokerRegistrationChecks(s)).toEqual([]);
  });
});

describe('BROKER_UNREACHABLE (seed 001)', () => {
  it('names the broker and its advertised address, says the controller likely cannot reach it and kafka-topics.sh looks fine', () => {
    const s = snap((s) => {
      const b = s.zookeeper!.brokers.find((b) => b.id === 3)!;
      b.host = '192.168.9.21';
      b.port = 9092;
      b.endpoints = ['PLAINTEXT://192.168.9.21:9092'];
      s.reachability[2] = {
        brokerId: 3,
        endpoint: 'PLAINTEXT://192.168.9.21:9092',
        host: '192.168.9.21',
        port: 9092,
        from: 'opsbot',
        ok: false,
        ms: 3000,
        error: 'connect ETIMEDOUT',
      };
    });
    const f = brokerReachabilityChecks(s);
    expect(f).toHaveLength(1);
    expect(f[0]).toMatchObject({ code: 'BROKER_UNREACHABLE', severity: 'critical', subject: { broker: 3 } });
    expect(f[0]!.summary).toBe(
      'Broker 3 is registered but its advertised address 192.168.9.21:9092 does not accept connections from ' +
        'opsbot (connect ETIMEDOUT)',
    );
    expect(f[0]!.explanation).toMatch(/controller likely cannot reach it/);
    expect(f[0]!.explanation).toMatch(/kafka-topics.sh --describe reads ZooKeeper/);
    expect(f[0]!.explanation).toMatch(/advertised.listeners/);
  });

  it('a failed Metadata request counts as a probe when the broker was not probed', () => {
    const s = snap((s) => {
      s.reachability = [];
      const v = s.kafka!.views[1]!;
      v.ok = false;
      v.error = 'connect ECONNREFUSED';
    });
    const f = brokerReachabilityChecks(s);
    expect(f.map((x) => [x.code, x.subject])).toEqual([['BROKER_UNREACHABLE', { broker: 2 }]]);
  });

  it('a broker that accepts connections but does not answer Metadata: a warning about the source', () => {
    const s = snap((s) => {
      const v = s.kafka!.views[1]!;
      v.ok = false;
      v.error = 'request timed out after 5000 ms';
    });
    const f = brokerReachabilityChecks(s);
    expect(f.map((x) => [x.code, x.severity, x.subject])).toEqual([
      ['SOURCE_UNAVAILABLE', 'warning', { source: 'kafka', broker: 2 }],
    ]);
  });

  it('a stopped broker is BROKER_NOT_REGISTERED only, not also unreachable', () => {
    const s = snap((s) => stopBroker(s, 2));
    const codes = runChecks(s)
      .filter((f) => f.subject.broker === 2)
      .map((f) => f.code);
    expect(codes).toEqual(['BROKER_NOT_REGISTERED']);
  });

  it('reachable from a container but not from opsbot: says so', () => {
    const s = snap((s) => {
      s.reachability[0] = { ...s.reachability[0]!, ok: false, error: 'EHOSTUNREACH' };
      s.reachability.push({ ...s.reachability[0]!, from: 'kafka2', ok: true, error: undefined as never });
    });
    const f = brokerReachabilityChecks(s)[0]!;
    expect(f.explanation).toMatch(/reachable from kafka2/);
    expect(f.evidence['ok']).toEqual([{ from: 'kafka2', endpoint: `PLAINTEXT://${address(1)}`, ms: 1 }]);
  });
});

describe('BROKER_UNREACHABLE from inside containers', () => {
  it('is left to the container checks: no opsbot finding when only a container fails to connect', () => {
    const s = snap((s) => {
      s.reachability.push({ ...s.reachability[0]!, from: 'orderer1', ok: false, error: 'ECONNREFUSED' });
    });
    expect(brokerReachabilityChecks(s)).toEqual([]);
  });
});
