/**
 * Two Kafka requests the lab sends to one broker on its real port (not its advertised endpoint): Metadata v1
 * and ListOffsets v1. Both versions are served by Kafka 1.0 through 3.9. kafkajs cannot be told which broker to
 * ask and throws on any partition error; the lab must look at broken clusters, so it asks directly.
 * (Independent of src/kafka on purpose: the lab is the ground truth the tool is tested against.)
 */
import { connect as netConnect } from 'node:net';

export interface BrokerMetadata {
  brokers: { id: number; host: string; port: number }[];
  controllerId: number;
  topics: {
    errorCode: number;
    name: string;
    partitions: { errorCode: number; partition: number; leader: number; replicas: number[]; isr: number[] }[];
  }[];
}

class Out {
  private parts: Buffer[] = [];
  int16(v: number): this {
    const b = Buffer.alloc(2);
    b.writeInt16BE(v);
    this.parts.push(b);
    return this;
  }
  int32(v: number): this {
    const b = Buffer.alloc(4);
    b.writeInt32BE(v);
    this.parts.push(b);
    return this;
  }
  int64(v: bigint): this {
    const b = Buffer.alloc(8);
    b.writeBigInt64BE(v);
    this.parts.push(b);
    return this;
  }
  string(s: string): this {
    const b = Buffer.from(s, 'utf8');
    this.int16(b.length);
    this.parts.push(b);
    return this;
  }
  buffer(): Buffer {
    return Buffer.concat(this.parts);
  }
}

class In {
  private pos = 0;
  constructor(private readonly buf: Buffer) {}
  int8(): number {
    return this.buf.readInt8(this.take(1));
  }
  int16(): number {
    return this.buf.readInt16BE(this.take(2));
  }
  int32(): number {
    return this.buf.readInt32BE(this.take(4));
  }
  int64(): bigint {
    return this.buf.readBigInt64BE(this.take(8));
  }
  nullableString(): string | null {
    const n = this.int16();
    if (n < 0) return null;
    const at = this.take(n);
    return this.buf.toString('utf8', at, at + n);
  }
  string(): string {
    return this.nullableString() ?? '';
  }
  array<T>(item: (r: In) => T): T[] {
    const n = this.int32();
    const out: T[] = [];
    for (let i = 0; i < n; i++) out.push(item(this));
    return out;
  }
  private take(n: number): number {
    if (this.pos + n > this.buf.length) throw new Error('Kafka answer shorter than expected');
    const at = this.pos;
    this.pos += n;
    return at;
  }
}

let correlation = 1;

/** One request/answer on a fresh connection. Returns the answer body after the correlation id. */
export function kafkaRequest(
  port: number,
  apiKey: number,
  apiVersion: number,
  body: Buffer,
  timeoutMs = 5000,
  host = '127.0.0.1',
): Promise<Buffer> {
  const id = correlation++ & 0x7fffffff;
  const header = new Out().int16(apiKey).int16(apiVersion).int32(id).string('fabric-opsbot-lab').buffer();
  const size = Buffer.alloc(4);
  size.writeInt32BE(header.length + body.length);
  return new Promise((resolve, reject) => {
    let acc = Buffer.alloc(0);
    let done = false;
    const socket = netConnect({ host, port });
    const finish = (err: Error | null, value?: Buffer) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value as Buffer);
    };
    const timer = setTimeout(
      () => finish(new Error(`${host}:${port}: no answer in ${timeoutMs} ms`)),
      timeoutMs,
    );
    socket.on('connect', () => socket.write(Buffer.concat([size, header, body])));
    socket.on('data', (chunk: Buffer) => {
      acc = Buffer.concat([acc, chunk]);
      if (acc.length >= 4 && acc.length >= 4 + acc.readInt32BE(0)) {
        const len = acc.readInt32BE(0);
        if (acc.readInt32BE(4) !== id) return finish(new Error(`${host}:${port}: wrong correlation id`));
        finish(null, acc.subarray(8, 4 + len));
      }
    });
    socket.on('error', (err) => finish(new Error(`${host}:${port}: ${err.message}`)));
    socket.on('close', () => finish(new Error(`${host}:${port}: connection closed before the answer`)));
  });
}

/** Metadata v1 from the broker listening on `port`; `topics` null = every topic. */
export async function brokerMetadata(
  port: number,
  topics: string[] | null = null,
  timeoutMs = 5000,
): Promise<BrokerMetadata> {
  const body = new Out();
  if (topics === null) body.int32(-1);
  else {
    body.int32(topics.length);
    for (const t of topics) body.string(t);
  }
  const r = new In(await kafkaRequest(port, 3, 1, body.buffer(), timeoutMs));
  const brokers = r.array((b) => {
    const id = b.int32();
    const host = b.string();
    const p = b.int32();
    b.nullableString(); // rack
    return { id, host, port: p };
  });
  const controllerId = r.int32();
  const topicList = r.array((t) => {
    const errorCode = t.int16();
    const name = t.string();
    t.int8(); // is_internal
    const partitions = t.array((p) => ({
      errorCode: p.int16(),
      partition: p.int32(),
      leader: p.int32(),
      replicas: p.array((x) => x.int32()),
      isr: p.array((x) => x.int32()),
    }));
    return { errorCode, name, partitions };
  });
  return { brokers, controllerId, topics: topicList };
}

/** Offsets: -1 = latest (the high watermark, as seen by a consumer), -2 = earliest (log start offset). */
export async function listOffset(
  port: number,
  topic: string,
  partition: number,
  time: -1 | -2 = -1,
  timeoutMs = 5000,
): Promise<{ errorCode: number; offset: bigint }> {
  const body = new Out()
    .int32(-1)
    .int32(1)
    .string(topic)
    .int32(1)
    .int32(partition)
    .int64(BigInt(time))
    .buffer();
  const r = new In(await kafkaRequest(port, 2, 1, body, timeoutMs));
  let result: { errorCode: number; offset: bigint } | undefined;
  r.array((t) => {
    t.string();
    t.array((p) => {
      p.int32();
      const errorCode = p.int16();
      p.int64(); // timestamp
      result = { errorCode, offset: p.int64() };
    });
  });
  if (!result) throw new Error(`ListOffsets ${topic}/${partition}: empty answer`);
  return result;
}
