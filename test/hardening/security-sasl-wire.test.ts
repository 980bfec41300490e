/**
 * Issue #9, security: the own wire client's SASL on brokers older than Kafka 1.0 (no SaslAuthenticate: after
 * SaslHandshake v0 the tokens are raw size-prefixed frames and a failure just closes the connection), against a
 * small fake broker that speaks exactly that and checks SCRAM proofs the way Kafka's ScramSaslServer does
 * (credentials made by the lab's scramCredential, Kafka's stored form). The framed path (Kafka 1.0+) is tested
 * on a real lab in security-kafka.lab.test.ts. Also: a broker that cannot prove it knows the password, or sends
 * a malformed SCRAM message, is refused.
 */
import { createHash, createHmac, randomBytes } from 'node:crypto';
import { createServer, type Server, type Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { Reader, Writer } from '../../src/kafka/codec.js';
import { BrokerConnection, type SaslMechanism } from '../../src/kafka/connection.js';
import { scramCredential } from '../../src/lab/index.js';

const USER = 'opsbot';
const PASSWORD = 'old-broker-pa55-7c1d';

interface FakeOptions {
  mechanisms: string[];
  /** Tamper with the SCRAM exchange. */
  badServerSignature?: boolean;
  foreignNonce?: boolean;
  iterations?: number;
}

let server: Server | undefined;
afterEach(async () => {
  await new Promise((r) => server?.close(r));
  server = undefined;
});

function frame(body: Buffer): Buffer {
  const f = Buffer.alloc(4 + body.length);
  f.writeInt32BE(body.length);
  body.copy(f, 4);
  return f;
}

/** A Kafka 0.11-like broker: ApiVersions without SaslAuthenticate, SaslHandshake v0, raw tokens. */
async function fakeBroker(opts: FakeOptions): Promise<number> {
  const stored = {
    'SCRAM-SHA-256': parse(scramCredential(PASSWORD, 'sha256')),
    'SCRAM-SHA-512': parse(scramCredential(PASSWORD, 'sha512')),
  };
  server = createServer((socket: Socket) => {
    let buf = Buffer.alloc(0);
    let mechanism = '';
    let stage: 'kafka' | 'first' | 'final' | 'done' = 'kafka';
    let scram: { clientFirstBare: string; serverFirst: string; nonce: string } | null = null;
    socket.on('error', () => undefined);
    socket.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      while (buf.length >= 4 && buf.length >= 4 + buf.readInt32BE(0)) {
        const body = buf.subarray(4, 4 + buf.readInt32BE(0));
        buf = buf.subarray(4 + body.length);
        if (stage === 'kafka') {
          const r = new Reader(Buffer.from(body));
          const apiKey = r.int16();
          r.int16();
          const correlationId = r.int32();
          r.nullableString();
          const w = new Writer().int32(correlationId);
          if (apiKey === 18) {
            // ApiVersions: SaslHandshake 0..0, no SaslAuthenticate (36), Metadata 0..1.
            w.int16(0).array(
              [
                [17, 0, 0],
                [18, 0, 0],
                [3, 0, 1],
              ],
              (x, [k, min, max]) => x.int16(k!).int16(min!).int16(max!),
            );
          } else if (apiKey === 17) {
            mechanism = r.string();
            const ok = opts.mechanisms.includes(mechanism);
            w.int16(ok ? 0 : 33).array(opts.mechanisms, (x, m) => x.string(m));
            if (ok) stage = 'first';
          } else {
            socket.destroy(); // anything else before authentication
            return;
          }
          socket.write(frame(w.toBuffer()));
          continue;
        }
        const token = body.toString('utf8');
        if (mechanism === 'PLAIN') {
          if (token === `\0${USER}\0${PASSWORD}`) {
            stage = 'done';
            socket.write(frame(Buffer.alloc(0)));
          } else socket.destroy();
          continue;
        }
        const cred = stored[mechanism as keyof typeof stored];
        const hash = mechanism === 'SCRAM-SHA-256' ? 'sha256' : 'sha512';
        if (stage === 'first') {
          const bare = token.replace(/^n,,/, '');
          const clientNonce = /r=([^,]+)/.exec(bare)?.[1] ?? '';
          const nonce =
            (opts.foreignNonce ? 'someone-else' : clientNonce) + randomBytes(8).toString('base64');
          const serverFirst = `r=${nonce},s=${cred.salt},i=${opts.iterations ?? cred.iterations}`;
          scram = { clientFirstBare: bare, serverFirst, nonce };
          stage = 'final';
          socket.write(frame(Buffer.from(serverFirst)));
        } else if (stage === 'final' && scram) {
          const withoutProof = token.replace(/,p=[^,]+$/, '');
          const proof = Buffer.from(/,p=([^,]+)$/.exec(token)?.[1] ?? '', 'base64');
          const authMessage = `${scram.clientFirstBare},${scram.serverFirst},${withoutProof}`;
          const signature = createHmac(hash, Buffer.from(cred.storedKey, 'base64'))
            .update(authMessage)
            .digest();
          const clientKey = Buffer.from(proof.map((b, i) => b ^ signature[i]!));
          const ok = createHash(hash).update(clientKey).digest('base64') === cred.storedKey;
          if (!ok) {
            socket.destroy(); // what Kafka 0.11 does on a bad proof
            continue;
          }
          const serverSignature = createHmac(hash, Buffer.from(cred.serverKey, 'base64'))
            .update(authMessage)
            .digest();
          if (opts.badServerSignature) serverSignature[0] = serverSignature[0]! ^ 1;
          stage = 'done';
          socket.write(frame(Buffer.from(`v=${serverSignature.toString('base64')}`)));
        }
      }
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return (server!.address() as { port: number }).port;
}

function parse(stored: string): { salt: string; storedKey: string; serverKey: string; iterations: number } {
  const m = Object.fromEntries(
    stored.split(',').map((kv) => [kv.slice(0, kv.indexOf('=')), kv.slice(kv.indexOf('=') + 1)]),
  );
  return {
    salt: m['salt']!,
    storedKey: m['stored_key']!,
    serverKey: m['server_key']!,
    iterations: Number(m['iterations']),
  };
}

const open = (port: number, mechanism: SaslMechanism, password = PASSWORD) =>
  BrokerConnection.open('127.0.0.1', port, {
    clientId: 't',
    connectTimeoutMs: 2000,
    requestTimeoutMs: 2000,
    sasl: { mechanism, username: USER, password },
  });

describe('SASL with raw tokens (brokers before Kafka 1.0)', () => {
  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)('%s: authenticates', async (mechanism) => {
    const port = await fakeBroker({ mechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] });
    const c = await open(port, mechanism);
    c.close();
  });

  it.each(['plain', 'scram-sha-256', 'scram-sha-512'] as const)(
    '%s: a wrong password is "authentication failed", naming the broker and the user, not the password',
    async (mechanism) => {
      const port = await fakeBroker({ mechanisms: ['PLAIN', 'SCRAM-SHA-256', 'SCRAM-SHA-512'] });
      const err = await open(port, mechanism, 'not-the-pa55word').then(
        () => null,
        (e: Error) => e,
      );
      expect(err?.message).toMatch(
        new RegExp(`^broker 127\\.0\\.0\\.1:${port}: SASL [A-Z0-9-]+ as user opsbot: authentication failed`),
      );
      expect(err?.message).not.toContain('not-the-pa55word');
    },
  );

  it('a mechanism the listener does not offer', async () => {
    const port = await fakeBroker({ mechanisms: ['PLAIN'] });
    await expect(open(port, 'scram-sha-512')).rejects.toThrow(
      /SCRAM-SHA-512 .*not enabled on this listener \(broker offers: PLAIN\)/,
    );
  });

  it('a broker that cannot prove it knows the password (bad server signature)', async () => {
    const port = await fakeBroker({ mechanisms: ['SCRAM-SHA-256'], badServerSignature: true });
    await expect(open(port, 'scram-sha-256')).rejects.toThrow(/could not prove it knows the password/);
  });

  it('a server nonce that does not extend ours, or an absurd iteration count', async () => {
    let port = await fakeBroker({ mechanisms: ['SCRAM-SHA-256'], foreignNonce: true });
    await expect(open(port, 'scram-sha-256')).rejects.toThrow(/malformed SCRAM server-first/);
    await new Promise((r) => server?.close(r));
    port = await fakeBroker({ mechanisms: ['SCRAM-SHA-256'], iterations: 50_000_000 });
    await expect(open(port, 'scram-sha-256')).rejects.toThrow(/implausible SCRAM iteration count/);
  });
});
