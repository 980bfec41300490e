/**
 * One TCP (or TLS) connection to one Kafka broker, with pipelined requests: many requests may be in flight,
 * answers are matched by correlation id. Every request has a timeout; errors name the broker's address.
 *
 * SASL: PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 (RFC 5802, as Kafka implements it). On Kafka 1.0+ the tokens go
 * in SaslAuthenticate requests (a failure comes back with the broker's reason); on 0.10-0.11 they are raw
 * size-prefixed frames after SaslHandshake v0 (a failure closes the connection). Errors never contain the
 * password, and say what the port probably is when it does not speak what the inventory says (TLS to a
 * plaintext port, SASL to a listener without it).
 */
import { describeTlsError as describeTls, isTlsError, type TlsPeer } from '../tls-errors.js';
import { createHash, createHmac, pbkdf2Sync, randomBytes, timingSafeEqual } from 'node:crypto';
import { Socket, connect as tcpConnect, isIP } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { SourceError } from '../errors/index.js';
import { registerSecret } from '../log.js';
import { Reader, Writer } from './codec.js';
import type { KafkaRequest } from './requests.js';
import { API, apiVersionsRequest, saslAuthenticateRequest, saslHandshakeRequest } from './requests.js';

export type SaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface WireOptions {
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  tls?: ConnectionOptions;
  sasl?: { mechanism: SaslMechanism; username: string; password: string };
}

interface Pending {
  resolve(body: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

/** Kafka's names of the mechanisms. */
const MECHANISM: Record<SaslMechanism, string> = {
  plain: 'PLAIN',
  'scram-sha-256': 'SCRAM-SHA-256',
  'scram-sha-512': 'SCRAM-SHA-512',
};

const ILLEGAL_SASL_STATE = 34;
const UNSUPPORTED_SASL_MECHANISM = 33;

/** Who a TLS failure is with, for the words of describeTlsError. */
const KAFKA_PEER: TlsPeer = {
  peer: 'broker',
  key: 'kafka.tls',
  plaintextHint: 'is this a PLAINTEXT or SASL_PLAINTEXT port? kafka.tls is set',
};

/** A TLS failure of a broker connection, in words an operator can act on. */
export function describeTlsError(err: NodeJS.ErrnoException, who: TlsPeer = KAFKA_PEER): string {
  return describeTls(err, who);
}

export { isTlsError, type TlsPeer };

export class BrokerConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered: Buffer = Buffer.alloc(0);
  private closedError: Error | null = null;
  /** Any frame received yet (a listener that closes before answering anything wants TLS or SASL). */
  private answered = false;
  /** Raw SASL v0 token exchange in progress: the next frame is not a Kafka response. */
  private rawWaiter: ((frame: Buffer) => void) | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    private readonly opts: WireOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err: NodeJS.ErrnoException) =>
      this.fail(
        new SourceError('kafka', `broker ${address}: ${opts.tls ? describeTlsError(err) : err.message}`),
      ),
    );
    socket.on('close', () =>
      this.fail(
        new SourceError(
          'kafka',
          `broker ${address}: connection closed` +
            (this.answered
              ? ''
              : opts.tls || opts.sasl
                ? ' before any answer'
                : ' before any answer (does this listener need TLS or SASL? the inventory sets neither)'),
        ),
      ),
    );
  }

  static async open(host: string, port: number, opts: WireOptions): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    if (opts.sasl) registerSecret(opts.sasl.password);
    const socket = await new Promise<Socket>((resolve, reject) => {
      let s: Socket;
      try {
        // (SNI takes a name, never an address.)
        const servername = opts.tls?.servername ?? (isIP(host) ? undefined : host);
        s = opts.tls
          ? tlsConnect({ ...opts.tls, host, port, ...(servername !== undefined ? { servername } : {}) })
          : tcpConnect({ host, port });
      } catch (err) {
        // A client key that cannot be read (wrong passphrase) throws here, before any connection.
        reject(
          new SourceError('kafka', `broker ${address}: ${describeTlsError(err as NodeJS.ErrnoException)}`),
        );
        return;
      }
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new SourceError(
            'kafka',
            `broker ${address}: no ${opts.tls ? 'TLS handshake' : 'connection'} within ${opts.connectTimeoutMs} ms`,
          ),
        );
      }, opts.connectTimeoutMs);
      let connected = false;
      s.once('connect', () => (connected = true));
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        s.destroy();
        const why = opts.tls && connected ? describeTlsError(err) : (err.code ?? err.message);
        reject(new SourceError('kafka', `broker ${address}: ${why}`, { cause: err }));
      });
    });
    socket.setNoDelay(true);
    const conn = new BrokerConnection(socket, address, opts);
    if (opts.sasl) {
      try {
        await conn.authenticate(opts.sasl);
      } catch (err) {
        conn.close();
        throw err;
      }
    }
    return conn;
  }

  async send<T>(req: KafkaRequest<T>, timeoutMs = this.opts.requestTimeoutMs): Promise<T> {
    const body = await this.roundTrip(req.apiKey, req.apiVersion, req.body, timeoutMs);
    try {
      return req.decode(new Reader(body));
    } catch (err) {
      throw new SourceError(
        'kafka',
        `broker ${this.address}: could not decode answer to API ${req.apiKey} v${req.apiVersion}: ${(err as Error).message}`,
      );
    }
  }

  close(): void {
    this.socket.destroy();
  }

  private roundTrip(apiKey: number, apiVersion: number, body: Buffer, timeoutMs: number): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.closedError);
    const correlationId = this.nextId++;
    const header = new Writer()
      .int16(apiKey)
      .int16(apiVersion)
      .int32(correlationId)
      .string(this.opts.clientId);
    const payload = Buffer.concat([header.toBuffer(), body]);
    const frame = Buffer.alloc(4 + payload.length);
    frame.writeInt32BE(payload.length);
    payload.copy(frame, 4);
    return new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(correlationId);
        reject(
          new SourceError(
            'kafka',
            `broker ${this.address}: no answer to API ${apiKey} within ${timeoutMs} ms`,
          ),
        );
      }, timeoutMs);
      this.pending.set(correlationId, { resolve, reject, timer });
      this.socket.write(frame);
    });
  }

  private onData(chunk: Buffer): void {
    this.buffered = this.buffered.length ? Buffer.concat([this.buffered, chunk]) : chunk;
    while (this.buffered.length >= 4) {
      const size = this.buffered.readInt32BE(0);
      if (this.buffered.length < 4 + size) return;
      const frame = this.buffered.subarray(4, 4 + size);
      this.buffered = this.buffered.subarray(4 + size);
      this.answered = true;
      if (this.rawWaiter) {
        const w = this.rawWaiter;
        this.rawWaiter = null;
        w(Buffer.from(frame));
        continue;
      }
      const id = frame.readInt32BE(0);
      const p = this.pending.get(id);
      if (!p) continue; // answer to a request that timed out
      this.pending.delete(id);
      clearTimeout(p.timer);
      p.resolve(frame.subarray(4));
    }
  }

  private fail(err: Error): void {
    if (this.closedError) return;
    this.closedError = err;
    for (const p of this.pending.values()) {
      clearTimeout(p.timer);
      p.reject(err);
    }
    this.pending.clear();
  }

  // ---------------------------------------------------------------- SASL

  private saslError(what: string, sasl: NonNullable<WireOptions['sasl']>): SourceError {
    return new SourceError(
      'kafka',
      `broker ${this.address}: SASL ${MECHANISM[sasl.mechanism]} as user ${sasl.username}: ${what}`,
    );
  }

  /**
   * ApiVersions (allowed before authentication) says whether the broker has SaslAuthenticate; then the
   * handshake and the mechanism's tokens.
   */
  private async authenticate(sasl: NonNullable<WireOptions['sasl']>): Promise<void> {
    const mechanism = MECHANISM[sasl.mechanism];
    const timeoutMs = this.opts.requestTimeoutMs;
    let versions: Record<number, [number, number]>;
    try {
      versions = (await this.send(apiVersionsRequest(), timeoutMs)).versions;
    } catch (err) {
      const closed = /connection closed|ECONNRESET/.test((err as Error).message);
      throw this.saslError(
        closed
          ? 'the broker closed the connection before the SASL handshake (is this a TLS port? kafka.tls is not set)'
          : (err as Error).message.replace(`broker ${this.address}: `, ''),
        sasl,
      );
    }
    const framed =
      versions[API.SaslAuthenticate] !== undefined && (versions[API.SaslHandshake]?.[1] ?? 0) >= 1;
    const hs = await this.send(saslHandshakeRequest(mechanism, framed ? 1 : 0), timeoutMs);
    if (hs.errorCode === ILLEGAL_SASL_STATE) {
      throw this.saslError(
        'this listener does not do SASL (ILLEGAL_SASL_STATE): is it a PLAINTEXT or SSL port? kafka.sasl is set',
        sasl,
      );
    }
    if (hs.errorCode === UNSUPPORTED_SASL_MECHANISM || hs.errorCode !== 0) {
      throw this.saslError(
        `not enabled on this listener (broker offers: ${hs.mechanisms.join(', ') || 'none'})`,
        sasl,
      );
    }
    const exchange = framed
      ? (token: Buffer) => this.saslAuthenticate(token, sasl)
      : (token: Buffer) => this.rawToken(token, sasl);
    if (sasl.mechanism === 'plain') {
      await exchange(Buffer.from(`\0${sasl.username}\0${sasl.password}`, 'utf8'));
      return;
    }
    await this.scram(sasl, exchange);
  }

  private async saslAuthenticate(token: Buffer, sasl: NonNullable<WireOptions['sasl']>): Promise<Buffer> {
    const a = await this.send(saslAuthenticateRequest(token));
    if (a.errorCode !== 0) {
      throw this.saslError(
        `authentication failed: ${a.errorMessage ?? `error ${a.errorCode}`}`.replace(
          sasl.password,
          '[redacted]',
        ),
        sasl,
      );
    }
    return a.authBytes;
  }

  /** Kafka 0.10-0.11: a raw size-prefixed token; the broker answers with a frame, or closes on failure. */
  private rawToken(token: Buffer, sasl: NonNullable<WireOptions['sasl']>): Promise<Buffer> {
    if (this.closedError) return Promise.reject(this.saslError('connection closed', sasl));
    const frame = Buffer.alloc(4 + token.length);
    frame.writeInt32BE(token.length);
    token.copy(frame, 4);
    return new Promise<Buffer>((resolve, reject) => {
      const onClose = () => {
        clearTimeout(timer);
        this.rawWaiter = null;
        reject(this.saslError('authentication failed (the broker closed the connection)', sasl));
      };
      const timer = setTimeout(() => {
        this.socket.off('close', onClose);
        this.rawWaiter = null;
        reject(this.saslError(`no answer within ${this.opts.requestTimeoutMs} ms`, sasl));
      }, this.opts.requestTimeoutMs);
      this.rawWaiter = (answer) => {
        clearTimeout(timer);
        this.socket.off('close', onClose);
        resolve(answer);
      };
      this.socket.once('close', onClose);
      this.socket.write(frame);
    });
  }

  /** RFC 5802 client (no channel binding), as Kafka's ScramSaslServer expects it. */
  private async scram(
    sasl: NonNullable<WireOptions['sasl']>,
    exchange: (token: Buffer) => Promise<Buffer>,
  ): Promise<void> {
    const hash = sasl.mechanism === 'scram-sha-256' ? 'sha256' : 'sha512';
    const keyLength = hash === 'sha256' ? 32 : 64;
    const user = sasl.username.replace(/=/g, '=3D').replace(/,/g, '=2C');
    const clientNonce = randomBytes(24).toString('base64url');
    const clientFirstBare = `n=${user},r=${clientNonce}`;
    const serverFirst = (await exchange(Buffer.from(`n,,${clientFirstBare}`, 'utf8'))).toString('utf8');
    const attrs = scramAttributes(serverFirst);
    if (attrs.e !== undefined) throw this.saslError(`authentication failed: ${attrs.e}`, sasl);
    const nonce = attrs.r;
    const salt = attrs.s;
    const iterations = Number(attrs.i);
    if (
      !nonce ||
      !nonce.startsWith(clientNonce) ||
      !salt ||
      !Number.isInteger(iterations) ||
      iterations < 1
    ) {
      throw this.saslError('the broker sent a malformed SCRAM server-first message', sasl);
    }
    if (iterations > 1_000_000) throw this.saslError(`implausible SCRAM iteration count ${iterations}`, sasl);
    const salted = pbkdf2Sync(
      Buffer.from(sasl.password, 'utf8'),
      Buffer.from(salt, 'base64'),
      iterations,
      keyLength,
      hash,
    );
    const clientKey = createHmac(hash, salted).update('Client Key').digest();
    const storedKey = createHash(hash).update(clientKey).digest();
    const withoutProof = `c=biws,r=${nonce}`;
    const authMessage = `${clientFirstBare},${serverFirst},${withoutProof}`;
    const clientSignature = createHmac(hash, storedKey).update(authMessage).digest();
    const proof = Buffer.alloc(clientKey.length);
    for (let i = 0; i < proof.length; i++) proof[i] = clientKey[i]! ^ clientSignature[i]!;
    const serverFinal = (
      await exchange(Buffer.from(`${withoutProof},p=${proof.toString('base64')}`, 'utf8'))
    ).toString('utf8');
    const fin = scramAttributes(serverFinal);
    if (fin.e !== undefined) throw this.saslError(`authentication failed: ${fin.e}`, sasl);
    const serverKey = createHmac(hash, salted).update('Server Key').digest();
    const expected = createHmac(hash, serverKey).update(authMessage).digest();
    const got = Buffer.from(fin.v ?? '', 'base64');
    if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
      throw this.saslError(
        'the broker could not prove it knows the password (bad SCRAM server signature)',
        sasl,
      );
    }
  }
}

/** "r=abc,s=xyz,i=4096" -> { r, s, i } (values may contain "="). */
function scramAttributes(message: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const part of message.split(',')) {
    const i = part.indexOf('=');
    if (i > 0) out[part.slice(0, i)] = part.slice(i + 1);
  }
  return out;
}
