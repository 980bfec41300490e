/**
 * Every other outside call has a deadline and a named error (issue #9, faults during work), against servers
 * that hang in the ways real ones do: they take the connection and say nothing, send the headers and never end
 * the body, trickle the body forever, never finish a TLS handshake, or speak HTTP/2 and never answer a call.
 *
 * - the orderer's operations endpoint (/metrics, /healthz: src/orderers/metrics.ts), alone and inside the
 *   orderer gatherer, whose status then says which URL did not answer;
 * - the orderer's gRPC AtomicBroadcast (Broadcast, Deliver: src/fabric/client/orderer.ts).
 *
 * (Redis commands of the CLI: test/hardening/faults-redis.test.ts; Slack: faults-slack.test.ts; Docker:
 * faults-docker.test.ts.)
 */
import { Server as GrpcServer, ServerCredentials, type ServerDuplexStream } from '@grpc/grpc-js';
import { createServer as createHttpServer, type Server as HttpServer } from 'node:http';
import { createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdererClient } from '../../src/fabric/client/orderer.js';
import { gatherOrderers } from '../../src/orderers/gather.js';
import {
  fetchOrdererHealth,
  fetchOrdererMetrics,
  OperationsEndpointError,
} from '../../src/orderers/metrics.js';

const held = new Set<Socket>();
const servers: { close(cb: () => void): void }[] = [];

/** Takes connections and never says a byte. */
async function silentTcp(): Promise<number> {
  const s: Server = createServer((sock) => {
    held.add(sock);
    sock.on('data', () => undefined);
    sock.on('error', () => undefined);
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

/** Answers 200 and then: nothing more (stall), or one byte of body every 50 ms forever (trickle). */
async function stuckHttp(how: 'stall' | 'trickle'): Promise<number> {
  const s: HttpServer = createHttpServer((req, res) => {
    req.resume();
    res.writeHead(200, { 'content-type': 'text/plain' });
    res.write('# HELP consensus_kafka_last_offset_persisted\n');
    if (how === 'trickle') {
      const t = setInterval(() => res.write('#'), 50);
      res.on('close', () => clearInterval(t));
    }
  });
  s.on('connection', (sock: Socket) => held.add(sock));
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

afterAll(async () => {
  for (const s of held) s.destroy();
  await Promise.all(servers.map((s) => new Promise<void>((r) => s.close(() => r()))));
});

describe('the orderer operations endpoint', () => {
  const cases: [string, () => Promise<string>][] = [
    ['takes the connection and says nothing', async () => `http://127.0.0.1:${await silentTcp()}`],
    ['sends the headers and never ends the body', async () => `http://127.0.0.1:${await stuckHttp('stall')}`],
    ['trickles the body forever', async () => `http://127.0.0.1:${await stuckHttp('trickle')}`],
    ['never finishes the TLS handshake', async () => `https://127.0.0.1:${await silentTcp()}`],
  ];
  it.each(cases)('one that %s: no answer within the deadline, naming the URL', async (_what, start) => {
    const base = await start();
    const tls = base.startsWith('https:') ? { tls: { enabled: true, rejectUnauthorized: false } } : {};
    const t0 = Date.now();
    const err = await fetchOrdererMetrics(base, { timeoutMs: 300, ...tls }).catch((e: unknown) => e);
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(err).toBeInstanceOf(OperationsEndpointError);
    expect((err as Error).message).toBe(`${base}/metrics: no answer within 300 ms`);
    const h = await fetchOrdererHealth(base, { timeoutMs: 300, ...tls }).catch((e: unknown) => e);
    expect((h as Error).message).toBe(`${base}/healthz: no answer within 300 ms`);
  });

  it('inside the orderer gatherer: the orderer is reported with the URL that did not answer', async () => {
    const base = `http://127.0.0.1:${await stuckHttp('trickle')}`;
    const t0 = Date.now();
    const g = await gatherOrderers(
      { orderers: [{ name: 'orderer1', channels: ['pubchain'], operationsUrl: base, probeHealthz: false }] },
      { timeoutMs: 300 },
    );
    expect(Date.now() - t0).toBeLessThan(5000);
    expect(g.positions).toMatchObject([
      {
        orderer: 'orderer1',
        channel: 'pubchain',
        source: null,
        errors: [{ source: 'metrics', error: `${base}/metrics: no answer within 300 ms` }],
      },
    ]);
    expect(g.status.ok).toBe(false);
    expect(g.status.error).toContain(`orderer1/pubchain: metrics: ${base}/metrics: no answer within 300 ms`);
  });
});

describe("the orderer's gRPC AtomicBroadcast", () => {
  let grpc: GrpcServer;
  let grpcPort = 0;
  beforeAll(async () => {
    // An orderer that takes Broadcast and Deliver streams and never answers on them.
    grpc = new GrpcServer();
    const never = (call: ServerDuplexStream<Buffer, Buffer>) => {
      call.on('data', () => undefined);
      call.on('error', () => undefined);
    };
    const method = (path: string) => ({
      path,
      requestStream: true,
      responseStream: true,
      requestSerialize: (b: Buffer) => b,
      requestDeserialize: (b: Buffer) => b,
      responseSerialize: (b: Buffer) => b,
      responseDeserialize: (b: Buffer) => b,
    });
    grpc.addService(
      {
        Broadcast: method('/orderer.AtomicBroadcast/Broadcast'),
        Deliver: method('/orderer.AtomicBroadcast/Deliver'),
      },
      { Broadcast: never, Deliver: never },
    );
    grpcPort = await new Promise<number>((resolve, reject) =>
      grpc.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    );
  });
  afterAll(() => {
    grpc?.forceShutdown();
  });

  it.each([
    ['takes the TCP connection and never speaks HTTP/2', () => silentTcp()],
    ['speaks gRPC and never answers the call', () => Promise.resolve(grpcPort)],
  ])('an orderer that %s: Broadcast and Deliver end at their deadline, naming it', async (_what, start) => {
    const address = `127.0.0.1:${await start()}`;
    const client = new OrdererClient(address, { timeoutMs: 500 });
    try {
      const t0 = Date.now();
      const b = await client.broadcastOne(new Uint8Array([1, 2, 3])).catch((e: unknown) => e);
      expect(Date.now() - t0).toBeLessThan(5000);
      expect((b as Error).message).toMatch(
        new RegExp(
          `^Broadcast to ${address.replace(/\./g, '\\.')}: 4 DEADLINE_EXCEEDED: .* \\(0/1 answered\\)$`,
        ),
      );
      const d = await client.deliverRaw(new Uint8Array([1, 2, 3])).catch((e: unknown) => e);
      expect((d as Error).message).toMatch(
        new RegExp(
          `^Deliver from ${address.replace(/\./g, '\\.')}: 4 DEADLINE_EXCEEDED: .* \\(0 blocks received\\)$`,
        ),
      );
    } finally {
      client.close();
    }
  });
});
