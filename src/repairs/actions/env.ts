/**
 * What step handlers need from a cluster: a ZooKeeper session per use, a kafkajs client, the ApiVersions the
 * brokers answer (which decides between the Admin API and ZooKeeper), the Docker clients, and fetch (orderer
 * /healthz). Built once per worker by defaultStepHandlers(); tests replace any part.
 */
import type { Kafka } from 'kafkajs';
import type { ClusterConfig, Secrets } from '../../config/index.js';
import { createDockerClients, type DockerClient } from '../../docker/client.js';
import { describeError, SourceError } from '../../errors/index.js';
import { wireOptionsFor } from '../../gather/kafka.js';
import { kafkaClient } from '../../kafka/client.js';
import { BrokerConnection } from '../../kafka/connection.js';
import { apiVersionsRequest } from '../../kafka/requests.js';
import { ZkSession } from '../../zookeeper/session.js';

export interface BrokerApis {
  /** Each bootstrap broker that answered, with its API versions (apiKey -> [min, max]). */
  answered: { address: string; versions: Record<number, [number, number]> }[];
  /** Bootstrap brokers that did not answer, with why. */
  errors: string[];
}

/** True when at least one broker answered and every one that did has the API. */
export function allSupport(apis: BrokerApis, apiKey: number): boolean {
  return apis.answered.length > 0 && apis.answered.every((a) => a.versions[apiKey] !== undefined);
}

export interface RepairEnv {
  clusterName: string;
  config: ClusterConfig;
  /** Open a ZooKeeper session (the inventory's connect string, chroot included), run `fn`, close it. */
  withZk<T>(fn: (zk: ZkSession) => Promise<T>): Promise<T>;
  /** A kafkajs client (created on first use: a missing SASL password fails the step, not the worker). */
  kafka(): Kafka;
  /** ApiVersions of the bootstrap brokers, asked afresh. Throws when none answers. */
  apiVersions(): Promise<BrokerApis>;
  /** Docker clients by endpoint name (docker.endpoints). */
  docker(): Map<string, DockerClient>;
  fetch: typeof fetch;
  /** Pause between polls while waiting (default 1000 ms). */
  pollMs: number;
}

export function createRepairEnv(
  clusterName: string,
  config: ClusterConfig,
  secrets: Pick<Secrets, 'byEnv'>,
  over: Partial<RepairEnv> = {},
): RepairEnv {
  let kafka: Kafka | undefined;
  let docker: Map<string, DockerClient> | undefined;
  return {
    clusterName,
    config,
    async withZk(fn) {
      const zk = await ZkSession.open(config.zookeeper.connect, {
        connectTimeoutMs: config.zookeeper.connectTimeoutMs,
        sessionTimeoutMs: config.zookeeper.sessionTimeoutMs,
        requestTimeoutMs: Math.max(5000, config.zookeeper.connectTimeoutMs),
      });
      try {
        return await fn(zk);
      } finally {
        zk.close();
      }
    },
    kafka() {
      kafka ??= kafkaClient(config.kafka, secrets.byEnv);
      return kafka;
    },
    async apiVersions() {
      const wire = wireOptionsFor(config.kafka, secrets.byEnv);
      const results = await Promise.all(
        config.kafka.brokers.map(async (address) => {
          const i = address.lastIndexOf(':');
          try {
            const conn = await BrokerConnection.open(address.slice(0, i), Number(address.slice(i + 1)), wire);
            try {
              const a = await conn.send(apiVersionsRequest());
              return { address, versions: a.versions };
            } finally {
              conn.close();
            }
          } catch (err) {
            return { address, error: describeError(err) };
          }
        }),
      );
      const apis: BrokerApis = { answered: [], errors: [] };
      for (const r of results) {
        if (r.versions !== undefined) apis.answered.push({ address: r.address, versions: r.versions });
        else apis.errors.push(`${r.address}: ${r.error}`);
      }
      if (apis.answered.length === 0) {
        throw new SourceError(
          'kafka',
          `no bootstrap broker answered ApiVersions (${apis.errors.join('; ')})`,
        );
      }
      return apis;
    },
    docker() {
      docker ??= createDockerClients(config);
      return docker;
    },
    fetch: globalThis.fetch.bind(globalThis),
    pollMs: 1000,
    ...over,
  };
}

/** Sleep that ends early (resolves) when the signal aborts. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });
}

/** "12.3 s" */
export function secs(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}
