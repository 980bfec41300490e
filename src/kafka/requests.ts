/**
 * The requests fabric-opsbot sends itself, in versions every broker from Kafka 0.11/1.0 to 3.9 accepts.
 * (kafkajs throws on any partition error in a metadata answer and cannot be told which broker to ask; the
 * diagnosis needs both.)
 */
import { Reader, Writer } from './codec.js';

export const API = {
  ListOffsets: 2,
  Metadata: 3,
  SaslHandshake: 17,
  ApiVersions: 18,
  DescribeConfigs: 32,
  SaslAuthenticate: 36,
} as const;

export interface KafkaRequest<T> {
  apiKey: number;
  apiVersion: number;
  body: Buffer;
  decode(r: Reader): T;
}

// ---------------------------------------------------------------- ApiVersions v0

export type ApiVersionsAnswer = { errorCode: number; versions: Record<number, [number, number]> };

export function apiVersionsRequest(): KafkaRequest<ApiVersionsAnswer> {
  return {
    apiKey: API.ApiVersions,
    apiVersion: 0,
    body: Buffer.alloc(0),
    decode(r) {
      const errorCode = r.int16();
      const versions: Record<number, [number, number]> = {};
      for (const [key, min, max] of r.array((a) => [a.int16(), a.int16(), a.int16()] as const)) {
        versions[key] = [min, max];
      }
      return { errorCode, versions };
    },
  };
}

// ---------------------------------------------------------------- Metadata v1

export interface MetadataAnswer {
  brokers: { id: number; host: string; port: number; rack: string | null }[];
  controllerId: number;
  topics: {
    errorCode: number;
    name: string;
    internal: boolean;
    partitions: { errorCode: number; partition: number; leader: number; replicas: number[]; isr: number[] }[];
  }[];
}

/** `topics` null asks for every topic. */
export function metadataRequest(topics: string[] | null): KafkaRequest<MetadataAnswer> {
  return {
    apiKey: API.Metadata,
    apiVersion: 1,
    body: new Writer().array(topics, (w, t) => w.string(t)).toBuffer(),
    decode(r) {
      const brokers = r.array((b) => ({
        id: b.int32(),
        host: b.string(),
        port: b.int32(),
        rack: b.nullableString(),
      }));
      const controllerId = r.int32();
      const topicList = r.array((t) => ({
        errorCode: t.int16(),
        name: t.string(),
        internal: t.bool(),
        partitions: t.array((p) => ({
          errorCode: p.int16(),
          partition: p.int32(),
          leader: p.int32(),
          replicas: p.array((x) => x.int32()),
          isr: p.array((x) => x.int32()),
        })),
      }));
      return { brokers, controllerId, topics: topicList };
    },
  };
}

// ---------------------------------------------------------------- ListOffsets v1

export const LATEST = -1n;
export const EARLIEST = -2n;

export interface ListOffsetsAnswer {
  topic: string;
  partition: number;
  errorCode: number;
  offset: bigint;
}

/** Asks the partition leader for the high watermark (LATEST) or log start offset (EARLIEST). */
export function listOffsetsRequest(
  partitions: { topic: string; partition: number }[],
  time: bigint,
): KafkaRequest<ListOffsetsAnswer[]> {
  const byTopic = new Map<string, number[]>();
  for (const p of partitions) {
    const list = byTopic.get(p.topic);
    if (list) list.push(p.partition);
    else byTopic.set(p.topic, [p.partition]);
  }
  return {
    apiKey: API.ListOffsets,
    apiVersion: 1,
    body: new Writer()
      .int32(-1) // replica id: a consumer, so LATEST is the high watermark
      .array([...byTopic], (w, [topic, parts]) =>
        w.string(topic).array(parts, (pw, p) => pw.int32(p).int64(time)),
      )
      .toBuffer(),
    decode(r) {
      const out: ListOffsetsAnswer[] = [];
      r.array((t) => {
        const topic = t.string();
        t.array((p) => {
          const partition = p.int32();
          const errorCode = p.int16();
          p.int64(); // timestamp
          out.push({ topic, partition, errorCode, offset: p.int64() });
        });
      });
      return out;
    },
  };
}

// ---------------------------------------------------------------- DescribeConfigs v0

export const RESOURCE_TOPIC = 2;
export const RESOURCE_BROKER = 4;

export interface DescribeConfigsAnswer {
  resources: {
    errorCode: number;
    errorMessage: string | null;
    type: number;
    name: string;
    configs: { name: string; value: string | null; isDefault: boolean; sensitive: boolean }[];
  }[];
}

export function describeConfigsRequest(
  resources: { type: number; name: string }[],
): KafkaRequest<DescribeConfigsAnswer> {
  return {
    apiKey: API.DescribeConfigs,
    apiVersion: 0,
    body: new Writer().array(resources, (w, res) => w.int8(res.type).string(res.name).int32(-1)).toBuffer(),
    decode(r) {
      r.int32(); // throttle time
      return {
        resources: r.array((x) => ({
          errorCode: x.int16(),
          errorMessage: x.nullableString(),
          type: x.int8(),
          name: x.string(),
          configs: x.array((c) => {
            const name = c.string();
            const value = c.nullableString();
            c.bool(); // read-only
            const isDefault = c.bool();
            const sensitive = c.bool();
            return { name, value, isDefault, sensitive };
          }),
        })),
      };
    },
  };
}

// ---------------------------------------------------------------- SASL (src/kafka/connection.ts)

export interface SaslHandshakeAnswer {
  errorCode: number;
  /** The mechanisms the listener has enabled. */
  mechanisms: string[];
}

/**
 * SaslHandshake v0 (Kafka 0.10+: the tokens follow as raw size-prefixed frames) or v1 (Kafka 1.0+: the tokens
 * follow in SaslAuthenticate requests, whose answers carry an error message).
 */
export function saslHandshakeRequest(mechanism: string, version: 0 | 1): KafkaRequest<SaslHandshakeAnswer> {
  return {
    apiKey: API.SaslHandshake,
    apiVersion: version,
    body: new Writer().string(mechanism).toBuffer(),
    decode(r) {
      const errorCode = r.int16();
      return { errorCode, mechanisms: r.array((x) => x.string()) };
    },
  };
}

export interface SaslAuthenticateAnswer {
  errorCode: number;
  errorMessage: string | null;
  authBytes: Buffer;
}

/** SaslAuthenticate v0: one token of the mechanism's exchange. */
export function saslAuthenticateRequest(token: Buffer): KafkaRequest<SaslAuthenticateAnswer> {
  return {
    apiKey: API.SaslAuthenticate,
    apiVersion: 0,
    body: new Writer().bytes(token).toBuffer(),
    decode(r) {
      const errorCode = r.int16();
      const errorMessage = r.nullableString();
      return { errorCode, errorMessage, authBytes: Buffer.from(r.nullableBytes() ?? Buffer.alloc(0)) };
    },
  };
}
