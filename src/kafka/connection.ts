/**
 * One TCP (or TLS) connection to one Kafka broker, with pipelined requests: many requests may be in flight,
 * answers are matched by correlation id. Every request has a timeout; errors name the broker's address.
 */
import { Socket, connect as tcpConnect } from 'node:net';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { SourceError } from '../errors/index.js';
import { Reader, Writer } from './codec.js';
import type { KafkaRequest } from './requests.js';
import { API } from './requests.js';

export interface WireOptions {
  clientId: string;
  connectTimeoutMs: number;
  requestTimeoutMs: number;
  tls?: ConnectionOptions;
  sasl?: { mechanism: 'plain'; username: string; password: string };
}

interface Pending {
  resolve(body: Buffer): void;
  reject(err: Error): void;
  timer: NodeJS.Timeout;
}

export class BrokerConnection {
  private nextId = 1;
  private readonly pending = new Map<number, Pending>();
  private buffered: Buffer = Buffer.alloc(0);
  private closedError: Error | null = null;
  /** Raw SASL v0 token exchange in progress: the next frame is not a Kafka response. */
  private rawWaiter: ((frame: Buffer) => void) | null = null;

  private constructor(
    private readonly socket: Socket,
    readonly address: string,
    private readonly opts: WireOptions,
  ) {
    socket.on('data', (chunk: Buffer) => this.onData(chunk));
    socket.on('error', (err) => this.fail(new SourceError('kafka', `broker ${address}: ${err.message}`)));
    socket.on('close', () => this.fail(new SourceError('kafka', `broker ${address}: connection closed`)));
  }

  static async open(host: string, port: number, opts: WireOptions): Promise<BrokerConnection> {
    const address = `${host}:${port}`;
    const socket = await new Promise<Socket>((resolve, reject) => {
      const s: Socket = opts.tls
        ? tlsConnect({ ...opts.tls, host, port, servername: opts.tls.servername ?? host })
        : tcpConnect({ host, port });
      const timer = setTimeout(() => {
        s.destroy();
        reject(
          new SourceError('kafka', `broker ${address}: no connection within ${opts.connectTimeoutMs} ms`),
        );
      }, opts.connectTimeoutMs);
      s.once(opts.tls ? 'secureConnect' : 'connect', () => {
        clearTimeout(timer);
        resolve(s);
      });
      s.once('error', (err: NodeJS.ErrnoException) => {
        clearTimeout(timer);
        reject(new SourceError('kafka', `broker ${address}: ${err.code ?? err.message}`, { cause: err }));
      });
    });
    socket.setNoDelay(true);
    const conn = new BrokerConnection(socket, address, opts);
    if (opts.sasl) await conn.authenticatePlain(opts.sasl.username, opts.sasl.password);
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

  /** SaslHandshake v0 then a raw PLAIN token: understood by Kafka 0.10 through 3.9. */
  private async authenticatePlain(username: string, password: string): Promise<void> {
    const body = await this.roundTrip(API.SaslHandshake, 0, new Writer().string('PLAIN').toBuffer(), 5000);
    const r = new Reader(body);
    const errorCode = r.int16();
    if (errorCode !== 0) {
      const enabled = r.array((x) => x.string()).join(', ');
      throw new SourceError(
        'kafka',
        `broker ${this.address}: SASL PLAIN not enabled (broker offers: ${enabled})`,
      );
    }
    const token = Buffer.from(`\0${username}\0${password}`, 'utf8');
    const frame = Buffer.alloc(4 + token.length);
    frame.writeInt32BE(token.length);
    token.copy(frame, 4);
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new SourceError('kafka', `broker ${this.address}: SASL authentication timed out`)),
        this.opts.requestTimeoutMs,
      );
      this.rawWaiter = () => {
        clearTimeout(timer);
        resolve();
      };
      this.socket.once('close', () => {
        clearTimeout(timer);
        reject(
          new SourceError('kafka', `broker ${this.address}: SASL authentication failed (user ${username})`),
        );
      });
      this.socket.write(frame);
    });
  }
}
