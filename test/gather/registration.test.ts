/**
 * A broker's registration in /brokers/ids as Kafka writes it (1.0: version 4, 3.x: version 5; host/port -1
 * when there is no PLAINTEXT listener) and as a broken one can be: host and port must name a TCP endpoint.
 */
import { describe, expect, it } from 'vitest';
import { parseBrokerRegistration } from '../../src/gather/zookeeper.js';

describe('parseBrokerRegistration', () => {
  it('takes the PLAINTEXT host/port, else the first endpoint; keeps the listener map and rack', () => {
    expect(
      parseBrokerRegistration(1, {
        version: 5,
        host: 'k1',
        port: 9092,
        endpoints: ['PLAINTEXT://k1:9092', 'SASL_SSL://k1.example:9094'],
        listener_security_protocol_map: { PLAINTEXT: 'PLAINTEXT', SASL_SSL: 'SASL_SSL' },
        rack: 'r1',
        timestamp: '1700000000000',
      }),
    ).toEqual({
      id: 1,
      host: 'k1',
      port: 9092,
      endpoints: ['PLAINTEXT://k1:9092', 'SASL_SSL://k1.example:9094'],
      securityProtocols: { PLAINTEXT: 'PLAINTEXT', SASL_SSL: 'SASL_SSL' },
      rack: 'r1',
      timestamp: 1_700_000_000_000,
    });
    // No PLAINTEXT listener: Kafka writes host null and port -1.
    expect(
      parseBrokerRegistration(2, { host: null, port: -1, endpoints: ['SSL://[fd00::2]:9093'] }),
    ).toMatchObject({ host: 'fd00::2', port: 9093 });
  });

  it.each([
    [{}, 'no host/port and no parsable endpoint'],
    [{ host: 'h', port: 70_000 }, 'port 70000 is not a TCP port'],
    [{ host: 'h', port: 9e233 }, 'port 9e+233 is not a TCP port'],
    [{ endpoints: ['PLAINTEXT://h:99999999'] }, 'port 99999999 is not a TCP port'],
    [{ endpoints: ['PLAINTEXT://:9092'] }, 'empty host'],
    [{ host: ' ', port: 9092 }, 'empty host'],
  ])('refuses %j: %s', (json, why) => {
    expect(parseBrokerRegistration(3, json as Record<string, unknown>)).toBe(why);
  });
});
