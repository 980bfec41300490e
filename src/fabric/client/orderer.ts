/**
 * The orderer's AtomicBroadcast service (orderer/ab.proto) over gRPC, without TLS:
 *   rpc Broadcast(stream common.Envelope) returns (stream BroadcastResponse);
 *   rpc Deliver(stream common.Envelope) returns (stream DeliverResponse);
 * Broadcast answers each envelope with one response, in order. Deliver answers a seek envelope with blocks and
 * then one status (SUCCESS when the stop block was sent; SERVICE_UNAVAILABLE when the consenter is in error,
 * NOT_FOUND for an unknown channel, FORBIDDEN when the signer may not read).
 */
import { Client, credentials, Metadata, type ClientDuplexStream } from '@grpc/grpc-js';
import { decodeBlock, type Block } from '../protos.js';
import { seekEnvelope, type SeekSpec } from './envelopes.js';
import type { SigningIdentity } from './identity.js';
import {
  decodeBroadcastResponse,
  decodeDeliverResponse,
  Status,
  statusName,
  type DeliverMsg,
} from './protos.js';

export interface BroadcastResult {
  status: number;
  /** "SUCCESS", "SERVICE_UNAVAILABLE", ... */
  statusName: string;
  info: string;
}

export interface DeliverResult {
  blocks: Block[];
  /** The closing status (Status.SUCCESS when every block up to the stop was delivered). */
  status: number;
  statusName: string;
}

export interface OrdererClientOptions {
  /** Deadline of each call (default 30 s). */
  timeoutMs?: number;
}

const BROADCAST = '/orderer.AtomicBroadcast/Broadcast';
const DELIVER = '/orderer.AtomicBroadcast/Deliver';

const toBuffer = (b: Uint8Array): Buffer => Buffer.from(b.buffer, b.byteOffset, b.byteLength);

/** A Broadcast/Deliver client of one orderer (`host:port`, plaintext gRPC). */
export class OrdererClient {
  private readonly client: Client;
  private readonly timeoutMs: number;

  constructor(
    readonly address: string,
    opts: OrdererClientOptions = {},
  ) {
    this.timeoutMs = opts.timeoutMs ?? 30_000;
    this.client = new Client(address, credentials.createInsecure(), {
      'grpc.max_receive_message_length': 100 * 1024 * 1024,
      'grpc.max_send_message_length': 100 * 1024 * 1024,
    });
  }

  close(): void {
    this.client.close();
  }

  private deadline(timeoutMs?: number): Date {
    return new Date(Date.now() + (timeoutMs ?? this.timeoutMs));
  }

  /**
   * Sends the envelopes on one Broadcast stream and returns the orderer's answer to each, in order. The orderer
   * closes the stream after the first refusal (e.g. SERVICE_UNAVAILABLE while its consenter starts): the result
   * is then shorter than `envelopes` and ends with that refusal.
   */
  broadcast(envelopes: Uint8Array[], opts: { timeoutMs?: number } = {}): Promise<BroadcastResult[]> {
    if (envelopes.length === 0) return Promise.resolve([]);
    const stream: ClientDuplexStream<Uint8Array, { status: number; info: string }> =
      this.client.makeBidiStreamRequest(
        BROADCAST,
        toBuffer,
        (b: Buffer) => decodeBroadcastResponse(b),
        new Metadata(),
        { deadline: this.deadline(opts.timeoutMs) },
      );
    return new Promise((resolve, reject) => {
      const out: BroadcastResult[] = [];
      let settled = false;
      const finish = (err?: Error): void => {
        if (settled) return;
        settled = true;
        if (err) {
          stream.cancel();
          reject(err);
        } else {
          stream.end();
          resolve(out);
        }
      };
      stream.on('data', (r: { status: number; info: string }) => {
        out.push({ status: r.status, statusName: statusName(r.status), info: r.info });
        if (out.length === envelopes.length) finish();
      });
      stream.on('error', (err: Error) =>
        finish(
          new Error(
            `Broadcast to ${this.address}: ${err.message} (${out.length}/${envelopes.length} answered)`,
          ),
        ),
      );
      stream.on('end', () => {
        if (out.length >= envelopes.length) return;
        // The orderer ends the stream after refusing an envelope: the answers so far are the result.
        if (out.some((r) => r.status !== Status.SUCCESS)) finish();
        else
          finish(
            new Error(
              `Broadcast to ${this.address}: stream ended after ${out.length}/${envelopes.length} answers`,
            ),
          );
      });
      for (const e of envelopes) stream.write(e);
    });
  }

  /** Broadcasts one envelope; throws unless the orderer answers SUCCESS. */
  async broadcastOne(envelope: Uint8Array, opts: { timeoutMs?: number } = {}): Promise<BroadcastResult> {
    const [r] = await this.broadcast([envelope], opts);
    if (!r || r.status !== Status.SUCCESS)
      throw new Error(
        `Broadcast to ${this.address}: ${r?.statusName ?? 'no answer'} ${r?.info ?? ''}`.trim(),
      );
    return r;
  }

  /**
   * Sends one (already signed) seek envelope on a Deliver stream and collects blocks until the closing status.
   * A status other than SUCCESS is returned, not thrown (a refused Deliver is an answer).
   */
  deliverRaw(seek: Uint8Array, opts: { timeoutMs?: number } = {}): Promise<DeliverResult> {
    const stream: ClientDuplexStream<Uint8Array, DeliverMsg> = this.client.makeBidiStreamRequest(
      DELIVER,
      toBuffer,
      (b: Buffer) => decodeDeliverResponse(b),
      new Metadata(),
      { deadline: this.deadline(opts.timeoutMs) },
    );
    return new Promise((resolve, reject) => {
      const blocks: Block[] = [];
      let settled = false;
      stream.on('data', (m: DeliverMsg) => {
        if (settled) return;
        if ('block' in m) {
          try {
            blocks.push(decodeBlock(m.block));
          } catch (err) {
            settled = true;
            stream.cancel();
            reject(err instanceof Error ? err : new Error(String(err)));
          }
          return;
        }
        settled = true;
        resolve({ blocks, status: m.status, statusName: statusName(m.status) });
        stream.cancel();
      });
      stream.on('error', (err: Error & { code?: number }) => {
        if (settled) return;
        settled = true;
        reject(new Error(`Deliver from ${this.address}: ${err.message} (${blocks.length} blocks received)`));
      });
      stream.on('end', () => {
        if (settled) return;
        settled = true;
        reject(new Error(`Deliver from ${this.address}: stream ended without a status`));
      });
      stream.write(seek);
      stream.end();
    });
  }

  /** Deliver of `channel` from `seek.start` to `seek.stop`, signed by `signer` (a channel reader). */
  deliver(
    channel: string,
    seek: SeekSpec,
    signer: SigningIdentity,
    opts: { timeoutMs?: number } = {},
  ): Promise<DeliverResult> {
    return this.deliverRaw(seekEnvelope(channel, seek, signer).bytes, opts);
  }
}
