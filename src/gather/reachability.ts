/**
 * Can this process open a TCP connection to every endpoint each broker advertises? (Seed 001: a broker
 * advertising an address nobody can reach looks fine in ZooKeeper and breaks every client.)
 */
import { connect } from 'node:net';
import type { BrokerRegistration, EndpointProbe } from '../model/index.js';

export function probeTcp(
  host: string,
  port: number,
  timeoutMs: number,
): Promise<{ ok: boolean; ms: number; error?: string }> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const socket = connect({ host, port });
    const done = (ok: boolean, error?: string) => {
      clearTimeout(timer);
      socket.destroy();
      const ms = Math.round((performance.now() - t0) * 10) / 10;
      resolve(error === undefined ? { ok, ms } : { ok, ms, error });
    };
    const timer = setTimeout(() => done(false, `no connection within ${timeoutMs} ms`), timeoutMs);
    socket.once('connect', () => done(true));
    socket.once('error', (err: NodeJS.ErrnoException) => done(false, err.code ?? err.message));
  });
}

/** "SASL_SSL://host:9093" -> listener, host and port; null if it does not parse. */
export function parseEndpoint(endpoint: string): { listener: string; host: string; port: number } | null {
  const m = /^([A-Za-z0-9_]+):\/\/\[?([^\]]*?)\]?:(\d+)$/.exec(endpoint);
  return m ? { listener: m[1]!, host: m[2]!, port: Number(m[3]) } : null;
}

export async function probeBrokerEndpoints(
  brokers: BrokerRegistration[],
  timeoutMs: number,
): Promise<EndpointProbe[]> {
  const jobs: Promise<EndpointProbe>[] = [];
  for (const b of brokers) {
    const endpoints = b.endpoints.length > 0 ? b.endpoints : [`PLAINTEXT://${b.host}:${b.port}`];
    for (const endpoint of endpoints) {
      const parsed = parseEndpoint(endpoint);
      if (!parsed) {
        jobs.push(
          Promise.resolve({
            brokerId: b.id,
            endpoint,
            host: '',
            port: 0,
            from: 'opsbot',
            ok: false,
            ms: 0,
            error: 'endpoint does not parse',
          }),
        );
        continue;
      }
      const { host, port } = parsed;
      jobs.push(
        probeTcp(host, port, timeoutMs).then((r) => ({
          brokerId: b.id,
          endpoint,
          host,
          port,
          from: 'opsbot',
          ...r,
        })),
      );
    }
  }
  return Promise.all(jobs);
}
