/**
 * Which of a broker's advertised listeners the gatherer talks to: the bootstrap's, else the one of the client's
 * security protocol, else the registration's host/port (Kafka's PLAINTEXT listener, or the only one).
 */
import { describe, expect, it } from 'vitest';
import { clientListener, listenerAddress } from '../../src/gather/kafka.js';
import type { BrokerRegistration } from '../../src/model/index.js';

const wire = { clientId: 't', connectTimeoutMs: 1000, requestTimeoutMs: 1000 };
const reg = (id: number): BrokerRegistration => ({
  id,
  host: 'kafka' + id,
  port: 9092,
  endpoints: [`PLAINTEXT://kafka${id}:9092`, `INTERNAL://10.0.0.${id}:9093`, `EXTERNAL://ext${id}:9094`],
  securityProtocols: { PLAINTEXT: 'PLAINTEXT', INTERNAL: 'SASL_PLAINTEXT', EXTERNAL: 'SASL_SSL' },
});
const brokers = [reg(1), reg(2), reg(3)];

describe('the listener the gatherer uses', () => {
  it('is the one a bootstrap address belongs to, whatever the security protocol', () => {
    expect(clientListener(brokers, ['ext2:9094'], wire)).toBe('EXTERNAL');
    expect(listenerAddress(brokers[0]!, 'EXTERNAL')).toEqual({ host: 'ext1', port: 9094 });
    expect(clientListener(brokers, ['10.0.0.3:9093'], wire)).toBe('INTERNAL');
  });

  it("else the first whose security protocol is the client's (from listener_security_protocol_map)", () => {
    const sasl = { mechanism: 'scram-sha-512' as const, username: 'u', password: 'p' };
    expect(clientListener(brokers, ['lb:9999'], { ...wire, sasl })).toBe('INTERNAL');
    expect(clientListener(brokers, ['lb:9999'], { ...wire, sasl, tls: {} })).toBe('EXTERNAL');
    expect(clientListener(brokers, ['lb:9999'], wire)).toBe('PLAINTEXT');
    // Listener names that are protocol names need no map.
    const plain: BrokerRegistration = {
      id: 4,
      host: 'h',
      port: 1,
      endpoints: ['SSL://h:2', 'PLAINTEXT://h:1'],
    };
    expect(clientListener([plain], ['lb:1'], { ...wire, tls: {} })).toBe('SSL');
    expect(listenerAddress(plain, 'SSL')).toEqual({ host: 'h', port: 2 });
  });

  it("else none: the registration's host/port", () => {
    expect(clientListener(brokers, ['lb:1'], { ...wire, tls: {} })).toBeNull(); // no SSL listener
    expect(listenerAddress(brokers[1]!, null)).toEqual({ host: 'kafka2', port: 9092 });
    // A broker without the chosen listener (mid-rollout): its registered host/port.
    expect(listenerAddress({ ...brokers[2]!, endpoints: ['PLAINTEXT://kafka3:9092'] }, 'EXTERNAL')).toEqual({
      host: 'kafka3',
      port: 9092,
    });
  });

  it('reads IPv6 endpoints', () => {
    const v6: BrokerRegistration = { id: 5, host: '::1', port: 9092, endpoints: ['SASL_SSL://[::1]:9095'] };
    expect(clientListener([v6], ['[::1]:9095', '::1:9095'], wire)).toBe('SASL_SSL');
    expect(listenerAddress(v6, 'SASL_SSL')).toEqual({ host: '::1', port: 9095 });
  });
});
