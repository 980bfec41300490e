/**
 * Ask the brokers themselves: every broker's own metadata (so brokers that disagree with ZooKeeper or with
 * each other show up), high watermark and log start offset per partition (one batched request per leader),
 * and broker and topic configs. Nothing here throws for a broken cluster: what could not be read is said.
 */
import { parseEndpoint } from './reachability.js';
import { compareText } from '../order.js';
import { readFileSync } from 'node:fs';
import type { ClusterConfig } from '../config/index.js';
import { describeError } from '../errors/index.js';
import { kafkaErrorName } from '../kafka/codec.js';
import { BrokerConnection, type WireOptions } from '../kafka/connection.js';
import {
  API,
  apiVersionsRequest,
  describeConfigsRequest,
  EARLIEST,
  LATEST,
  listOffsetsRequest,
  metadataRequest,
  RESOURCE_BROKER,
  RESOURCE_TOPIC,
  type MetadataAnswer,
} from '../kafka/requests.js';
import type {
  BrokerMetadataView,
  BrokerRegistration,
  KafkaView,
  PartitionOffsets,
  SourceStatus,
  ZkPartitionState,
} from '../model/index.js';

export interface KafkaGatherInput {
  /** Brokers registered in ZooKeeper (their advertised endpoints are asked too). */
  registrations?: BrokerRegistration[];
  /** Partition state from ZooKeeper: the leaders to ask for offsets. */
  partitions?: ZkPartitionState[];
  /**
   * ZooKeeper's answer (registrations and partition state) while it is still on its way: the bootstrap brokers
   * are asked for metadata meanwhile, the registered brokers and the offsets once it is here. Takes the place
   * of `registrations` and `partitions`.
   */
  zookeeper?: Promise<{ registrations?: BrokerRegistration[]; partitions?: ZkPartitionState[] }>;
  /** Only these topics (a channel scope); all topics when absent. */
  topics?: string[];
  wire: WireOptions;
}

export interface KafkaGathered {
  view: KafkaView | null;
  status: SourceStatus;
}

interface Target {
  address: string;
  host: string;
  port: number;
  brokerId: number | null;
}

function splitAddress(address: string): { host: string; port: number } {
  const i = address.lastIndexOf(':');
  return { host: address.slice(0, i), port: Number(address.slice(i + 1)) };
}

/** Wire options for a cluster: client id, timeouts, TLS; SASL (PLAIN, SCRAM) with the password from the environment. */
export function wireOptionsFor(
  kafka: ClusterConfig['kafka'],
  secretsByEnv: Record<string, string>,
): WireOptions {
  const opts: WireOptions = {
    clientId: kafka.clientId,
    connectTimeoutMs: kafka.connectTimeoutMs,
    requestTimeoutMs: kafka.requestTimeoutMs,
  };
  if (kafka.tls?.enabled) {
    opts.tls = {
      rejectUnauthorized: kafka.tls.rejectUnauthorized,
      ...(kafka.tls.ca ? { ca: readFileSync(kafka.tls.ca) } : {}),
      ...(kafka.tls.cert ? { cert: readFileSync(kafka.tls.cert) } : {}),
      ...(kafka.tls.key ? { key: readFileSync(kafka.tls.key) } : {}),
      ...(kafka.tls.passphraseEnv ? { passphrase: secretsByEnv[kafka.tls.passphraseEnv] } : {}),
      ...(kafka.tls.servername ? { servername: kafka.tls.servername } : {}),
    };
  }
  if (kafka.sasl) {
    const password = secretsByEnv[kafka.sasl.passwordEnv];
    if (password === undefined)
      throw new Error(`kafka.sasl.passwordEnv: environment variable ${kafka.sasl.passwordEnv} is not set`);
    opts.sasl = { mechanism: kafka.sasl.mechanism, username: kafka.sasl.username, password };
  }
  return opts;
}

/**
 * The listener this client talks to: the one whose advertised address is a bootstrap address, else the first
 * whose security protocol is the client's (TLS and SASL from the config), else none (the registration's
 * host/port, Kafka's PLAINTEXT listener). A broker is asked at its address on that listener, as Kafka's own
 * clients do: a cluster with PLAINTEXT beside SASL_SSL is read over SASL_SSL when the config says so.
 */
export function clientListener(
  registrations: readonly BrokerRegistration[],
  bootstrap: readonly string[],
  wire: WireOptions,
): string | null {
  const boot = new Set(bootstrap);
  for (const reg of registrations) {
    for (const e of reg.endpoints) {
      const ep = parseEndpoint(e);
      if (ep && boot.has(`${ep.host}:${ep.port}`)) return ep.listener;
    }
  }
  const protocol = wire.tls ? (wire.sasl ? 'SASL_SSL' : 'SSL') : wire.sasl ? 'SASL_PLAINTEXT' : 'PLAINTEXT';
  for (const reg of registrations) {
    for (const e of reg.endpoints) {
      const name = parseEndpoint(e)?.listener;
      if (name && (reg.securityProtocols?.[name] ?? name) === protocol) return name;
    }
  }
  return null;
}

/** A broker's address on `listener`, else its registered host/port. */
export function listenerAddress(
  reg: BrokerRegistration,
  listener: string | null,
): { host: string; port: number } {
  if (listener !== null) {
    for (const e of reg.endpoints) {
      const ep = parseEndpoint(e);
      if (ep && ep.listener === listener) return { host: ep.host, port: ep.port };
    }
  }
  return { host: reg.host, port: reg.port };
}

export async function gatherKafka(bootstrap: string[], input: KafkaGatherInput): Promise<KafkaGathered> {
  const started = Date.now();
  const notChecked: string[] = [];

  // 1. Ask each broker for ApiVersions and Metadata, pipelined, all at once: the bootstrap list at once, every
  //    registered broker's advertised address as soon as ZooKeeper has named them.
  const connections = new Map<string, BrokerConnection>();
  const versionsByAddress = new Map<string, Record<number, [number, number]>>();
  const answers = new Map<string, MetadataAnswer>();
  const ask = async (t: Target): Promise<BrokerMetadataView> => {
    const t0 = Date.now();
    const view: BrokerMetadataView = { brokerId: t.brokerId, address: t.address, ok: false };
    try {
      const conn = await BrokerConnection.open(t.host, t.port, input.wire);
      connections.set(t.address, conn);
      const [versions, md] = await Promise.all([
        conn.send(apiVersionsRequest()),
        conn.send(metadataRequest(input.topics ?? null)),
      ]);
      answers.set(t.address, md);
      versionsByAddress.set(t.address, versions.versions);
      view.ok = true;
      view.controllerId = md.controllerId;
      view.brokers = md.brokers.map((b) => ({ id: b.id, host: b.host, port: b.port, rack: b.rack }));
      view.partitions = [];
      view.topicErrors = {};
      for (const topic of md.topics) {
        if (topic.errorCode !== 0) view.topicErrors[topic.name] = topic.errorCode;
        for (const p of topic.partitions) {
          view.partitions.push({
            topic: topic.name,
            partition: p.partition,
            errorCode: p.errorCode,
            leader: p.leader,
            replicas: p.replicas,
            isr: p.isr,
          });
        }
      }
    } catch (err) {
      view.error = describeError(err);
    }
    view.ms = Date.now() - t0;
    return view;
  };
  const asked = new Map<string, Promise<BrokerMetadataView>>();
  for (const address of bootstrap) {
    if (!asked.has(address)) asked.set(address, ask({ address, ...splitAddress(address), brokerId: null }));
  }
  const zk = input.zookeeper
    ? await input.zookeeper.catch(() => ({}) as { registrations?: BrokerRegistration[] })
    : input;
  const partitionsFromZk = (zk as { partitions?: ZkPartitionState[] }).partitions;
  const registeredAt = new Map<string, number>();
  const registrations = zk.registrations ?? [];
  const listener = clientListener(registrations, bootstrap, input.wire);
  for (const reg of registrations) {
    const { host, port } = listenerAddress(reg, listener);
    const address = `${host}:${port}`;
    registeredAt.set(address, reg.id);
    if (!asked.has(address)) asked.set(address, ask({ address, host, port, brokerId: reg.id }));
  }
  const views: BrokerMetadataView[] = await Promise.all(asked.values());
  // A broker is who ZooKeeper says is registered at that address, else who its own answer says it is.
  const apiVersions: NonNullable<KafkaView['apiVersions']> = {};
  for (const view of views) {
    const registered = registeredAt.get(view.address);
    if (registered !== undefined) view.brokerId = registered;
    else if (view.brokerId === null && view.ok) {
      view.brokerId = view.brokers?.find((b) => `${b.host}:${b.port}` === view.address)?.id ?? null;
    }
    const versions = versionsByAddress.get(view.address);
    if (versions) apiVersions[view.brokerId ?? view.address] = versions;
  }

  try {
    if (!views.some((v) => v.ok)) {
      return {
        view: null,
        status: {
          ok: false,
          ms: Date.now() - started,
          error: `no broker answered: ${views.map((v) => `${v.address} (${v.error})`).join('; ')}`,
        },
      };
    }

    // Which connection reaches broker N: its own registered address, else any address whose answer named it.
    const connFor = (id: number): BrokerConnection | undefined => {
      for (const v of views) if (v.ok && v.brokerId === id) return connections.get(v.address);
      return undefined;
    };

    // 3. Offsets: group partitions by leader (ZooKeeper's word first, else the brokers'), one request each.
    const leaders = new Map<string, number>();
    const allPartitions = new Map<string, { topic: string; partition: number }>();
    for (const md of answers.values()) {
      for (const t of md.topics) {
        for (const p of t.partitions) {
          const key = `${t.name}/${p.partition}`;
          allPartitions.set(key, { topic: t.name, partition: p.partition });
          if (p.errorCode === 0 && p.leader >= 0 && !leaders.has(key)) leaders.set(key, p.leader);
        }
      }
    }
    for (const p of partitionsFromZk ?? []) {
      if (input.topics && !input.topics.includes(p.topic)) continue;
      const key = `${p.topic}/${p.partition}`;
      allPartitions.set(key, { topic: p.topic, partition: p.partition });
      if (p.leader !== null && p.leader >= 0) leaders.set(key, p.leader);
    }
    const offsets = new Map<string, PartitionOffsets>();
    const byLeader = new Map<number, { topic: string; partition: number }[]>();
    for (const [key, tp] of allPartitions) {
      const leader = leaders.get(key);
      if (leader === undefined) {
        offsets.set(key, { ...tp, error: 'no leader: offsets cannot be read' });
        continue;
      }
      const list = byLeader.get(leader);
      if (list) list.push(tp);
      else byLeader.set(leader, [tp]);
    }
    // 4. Configs, read while the offsets are: each broker its own (a broker answers only for itself on old releases), topics from one broker.
    const brokerConfigs: KafkaView['brokerConfigs'] = {};
    const topicConfigs: KafkaView['topicConfigs'] = {};
    const supportsDescribeConfigs = (key: string | number) => {
      const v = apiVersions[key];
      return v !== undefined && v[API.DescribeConfigs] !== undefined;
    };
    const brokerIds = new Set<number>();
    for (const v of views) if (v.ok && v.brokerId !== null) brokerIds.add(v.brokerId);
    const readOffsets = async (): Promise<void> => {
      await Promise.all(
        [...byLeader].map(async ([leader, parts]) => {
          const conn = connFor(leader);
          if (!conn) {
            for (const tp of parts) {
              offsets.set(`${tp.topic}/${tp.partition}`, {
                ...tp,
                broker: leader,
                error: `leader broker ${leader} could not be reached`,
              });
            }
            return;
          }
          try {
            const [latest, earliest] = await Promise.all([
              conn.send(listOffsetsRequest(parts, LATEST)),
              conn.send(listOffsetsRequest(parts, EARLIEST)),
            ]);
            for (const tp of parts) offsets.set(`${tp.topic}/${tp.partition}`, { ...tp, broker: leader });
            for (const [answers_, field] of [
              [latest, 'highWatermark'],
              [earliest, 'logStartOffset'],
            ] as const) {
              for (const a of answers_) {
                const o = offsets.get(`${a.topic}/${a.partition}`);
                if (!o) continue;
                if (a.errorCode === 0) o[field] = Number(a.offset);
                else o.error = `broker ${leader}: ${kafkaErrorName(a.errorCode)}`;
              }
            }
          } catch (err) {
            for (const tp of parts) {
              offsets.set(`${tp.topic}/${tp.partition}`, {
                ...tp,
                broker: leader,
                error: `leader broker ${leader}: ${describeError(err)}`,
              });
            }
          }
        }),
      );
    };
    const readConfigs = async (): Promise<void> => {
      await Promise.all(
        [...brokerIds].map(async (id) => {
          const conn = connFor(id);
          if (!conn) return;
          if (!supportsDescribeConfigs(id)) {
            notChecked.push(`broker ${id} configs: the broker lacks DescribeConfigs (Kafka < 0.11)`);
            return;
          }
          try {
            const res = await conn.send(
              describeConfigsRequest([{ type: RESOURCE_BROKER, name: String(id) }]),
            );
            const r = res.resources[0];
            if (!r || r.errorCode !== 0) {
              notChecked.push(
                `broker ${id} configs: ${r ? r.errorMessage || kafkaErrorName(r.errorCode) : 'empty answer'}`,
              );
              return;
            }
            brokerConfigs[String(id)] = Object.fromEntries(
              r.configs
                .filter((c) => !c.sensitive && c.value !== null)
                .map((c) => [c.name, c.value as string]),
            );
          } catch (err) {
            notChecked.push(`broker ${id} configs: ${describeError(err)}`);
          }
        }),
      );
      const topicNames = [...new Set([...allPartitions.values()].map((p) => p.topic))].sort();
      const configBroker = [...connections.entries()].find(([address]) =>
        supportsDescribeConfigs(views.find((v) => v.address === address)?.brokerId ?? address),
      );
      if (topicNames.length > 0 && configBroker) {
        try {
          const res = await configBroker[1].send(
            describeConfigsRequest(topicNames.map((name) => ({ type: RESOURCE_TOPIC, name }))),
          );
          for (const r of res.resources) {
            if (r.errorCode !== 0) {
              notChecked.push(`topic ${r.name} configs: ${r.errorMessage || kafkaErrorName(r.errorCode)}`);
              continue;
            }
            topicConfigs[r.name] = Object.fromEntries(
              r.configs
                .filter((c) => c.value !== null && !c.sensitive)
                .map((c) => [c.name, c.value as string]),
            );
          }
        } catch (err) {
          notChecked.push(`topic configs: ${describeError(err)}`);
        }
      } else if (topicNames.length > 0) {
        notChecked.push('topic configs: no reachable broker supports DescribeConfigs (Kafka < 0.11)');
      }
    };
    await Promise.all([readOffsets(), readConfigs()]);

    const view: KafkaView = {
      views: views.sort(
        (a, b) => (a.brokerId ?? 1e9) - (b.brokerId ?? 1e9) || compareText(a.address, b.address),
      ),
      offsets: [...offsets.values()].sort(
        (a, b) => compareText(a.topic, b.topic) || a.partition - b.partition,
      ),
      brokerConfigs,
      topicConfigs,
      apiVersions,
    };
    const failed = views.filter((v) => !v.ok);
    for (const f of failed)
      notChecked.push(
        `metadata from ${f.brokerId !== null ? `broker ${f.brokerId} at ` : ''}${f.address}: ${f.error}`,
      );
    const status: SourceStatus = { ok: true, ms: Date.now() - started };
    if (notChecked.length) status.notChecked = notChecked;
    return { view, status };
  } finally {
    for (const c of connections.values()) c.close();
  }
}
