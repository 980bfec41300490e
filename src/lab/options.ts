/**
 * Settings of the local lab and how they are resolved: explicit option > what the running lab was started
 * with (lab.json) > default.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export interface LabBasePorts {
  /** ZooKeeper client port of node 1; node n listens on zookeeper + n - 1. */
  zookeeper: number;
  /** Quorum (follower <-> leader) port of node 1. */
  zookeeperPeer: number;
  /** Leader election port of node 1. */
  zookeeperElection: number;
  /** Broker 1's listener; broker n listens on kafka + n - 1. */
  kafka: number;
  redis: number;
  // ---- Fabric orderers (labs started with `orderers: N`; src/lab/fabric)
  /** Orderer n's gRPC port (Broadcast/Deliver): orderer + n - 1. */
  orderer: number;
  /** Orderer n's operations endpoint (/metrics, /healthz): ordererOperations + n - 1. */
  ordererOperations: number;
  /** Orderer n's admin endpoint (Fabric 2.x always listens; unused by a Kafka orderer): ordererAdmin + n - 1. */
  ordererAdmin: number;
}

export const DEFAULT_BASE_PORTS: Readonly<LabBasePorts> = Object.freeze({
  zookeeper: 12181,
  zookeeperPeer: 12888,
  zookeeperElection: 13888,
  kafka: 19092,
  redis: 16379,
  orderer: 17050,
  ordererOperations: 18443,
  ordererAdmin: 18543,
});

/** The newest Kafka 3.9.x on Maven Central when the lab was written (3.9.3 did not exist). */
export const DEFAULT_KAFKA_VERSION = '3.9.2';
/** What Hyperledger Fabric 1.4's fabric-kafka images ship. */
export const FABRIC_KAFKA_VERSION = '1.0.2';
/** Fabric release whose orderer the lab runs (scripts/build-fabric.sh): the newest 2.5 the Go proxy serves. */
export const DEFAULT_FABRIC_VERSION = '2.5.9';
/** The Fabric channels every lab has (Fabric's system channel of the samples, and one application channel). */
export const DEFAULT_CHANNELS: readonly string[] = Object.freeze(['testchainid', 'pubchain']);

export interface LabOptions {
  /** Folder for all the lab's data, configs, logs and lab.json (default `<repo>/.lab/default`). */
  workDir?: string;
  /** Kafka release (default 3.9.2). 1.0.2 is Fabric 1.4's. */
  kafkaVersion?: string;
  /** Scala binary version of the kafka_<scala> artifact; default by release (2.11 for 1.x, 2.13 for 3.x). */
  scalaVersion?: string;
  /** ZooKeeper ensemble size: 3 (default) or 1 (standalone); any odd number up to 7 works. */
  zookeeperNodes?: number;
  /** Number of brokers, ids 1..n (default 4). */
  brokers?: number;
  basePorts?: Partial<LabBasePorts>;
  /** Jar cache root (default env FABRIC_OPSBOT_LAB_CACHE, else `<repo>/.lab`); jars go to `<cache>/jars/`. */
  cacheDir?: string;
  /** Java launcher (default `$JAVA_HOME/bin/java` when JAVA_HOME is set, else `java`). */
  javaBin?: string;
  /** Broker max heap in MiB (default 384). */
  brokerHeapMb?: number;
  /** ZooKeeper max heap in MiB (default 128). */
  zookeeperHeapMb?: number;
  /**
   * JVM options for every broker and ZooKeeper JVM, after the lab's own (default: serial GC and C1-only JIT,
   * which start fastest on a small machine; pass e.g. ['-XX:+UseG1GC', '-XX:TieredStopAtLevel=4'] for
   * benchmark-like runs).
   */
  jvmOpts?: string[];
  /** Extra / overriding broker settings (server.properties), e.g. { 'log.flush.interval.messages': 1 }. */
  brokerConfig?: Record<string, string | number | boolean>;
  /** zookeeper.session.timeout.ms of the brokers (default 6000): how fast a killed broker leaves /brokers/ids. */
  zkSessionTimeoutMs?: number;
  /** Channel topics created by labUp (default testchainid, pubchain). */
  channels?: string[];
  /** Run a Redis server too (default true). */
  redis?: boolean;
  /** Upper bound for labUp's waits (default 180 s). */
  timeoutMs?: number;
  /** Progress lines ("zookeeper quorum after 1.2 s"); default silent. */
  log?: (line: string) => void;
  // ---- containers (src/lab/containers.ts)
  /**
   * Run ZooKeeper and the brokers as containers on a podman engine the lab starts in `<workDir>/podman`
   * (host network, host binaries bind-mounted, restart policy unless-stopped); default false.
   */
  containers?: boolean;
  // ---- Fabric orderers (src/lab/fabric)
  /**
   * Real Fabric orderers (Kafka consenter) named orderer1.example.com ... (default 0 = none). They bootstrap the
   * system channel testchainid and create every other channel of `channels`. 0 stops the running ones.
   */
  orderers?: number;
  /** Fabric release of the orderers (default 2.5.9), built by scripts/build-fabric.sh into the cache. */
  fabricVersion?: string;
  // ---- TLS and SASL (src/lab/security.ts)
  /**
   * Secured listeners on every broker besides PLAINTEXT: SASL_PLAINTEXT (port + 100; PLAIN and SCRAM), SSL with
   * client certificates (+ 200) and SASL_SSL (+ 300), with a lab CA and credentials made at lab up, and the
   * orderers' operations endpoints over TLS (default false).
   */
  security?: boolean;
}

/** All settings with defaults filled in; what lab.json records. */
export interface ResolvedLabOptions {
  workDir: string;
  kafkaVersion: string;
  scalaVersion: string;
  zookeeperNodes: number;
  brokers: number;
  basePorts: LabBasePorts;
  cacheDir: string;
  javaBin: string;
  brokerHeapMb: number;
  zookeeperHeapMb: number;
  jvmOpts: string[];
  brokerConfig: Record<string, string>;
  zkSessionTimeoutMs: number;
  channels: string[];
  redis: boolean;
  timeoutMs: number;
  /** Nodes run as containers (src/lab/containers.ts). */
  containers: boolean;
  orderers: number;
  fabricVersion: string;
  /** Secured listeners and TLS material (src/lab/security.ts); absent in lab.json of older labs = false. */
  security?: boolean;
}

/** The repository root: the nearest folder above this module that has lab/pom.xml. */
export function repoRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    if (existsSync(join(dir, 'lab', 'pom.xml'))) return dir;
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
}

/** Default Scala binary version of the kafka_<scala> artifact for a Kafka release. */
export function defaultScalaVersion(kafkaVersion: string): string {
  const [major = 0, minor = 0] = kafkaVersion.split('.').map((s) => Number.parseInt(s, 10));
  if (major < 2) return '2.11';
  if (major === 2 && minor < 4) return '2.12';
  return '2.13';
}

/** The default work folder: `<repo>/.lab/default`. */
export function defaultWorkDir(): string {
  return join(repoRoot(), '.lab', 'default');
}

/** Resolve `workDir` alone (relative paths against the current directory). */
export function resolveWorkDir(opts: Pick<LabOptions, 'workDir'> = {}): string {
  return opts.workDir !== undefined ? resolve(opts.workDir) : defaultWorkDir();
}

function positiveInt(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 1 || v > max)
    throw new Error(`lab option ${name} must be an integer 1..${max}, got ${v}`);
  return v;
}

function nonNegativeInt(name: string, v: number, max: number): number {
  if (!Number.isInteger(v) || v < 0 || v > max)
    throw new Error(`lab option ${name} must be an integer 0..${max}, got ${v}`);
  return v;
}

/** Explicit options win, then the settings the existing lab was created with, then defaults. */
export function resolveLabOptions(opts: LabOptions = {}, previous?: ResolvedLabOptions): ResolvedLabOptions {
  const workDir = resolveWorkDir(opts);
  const kafkaVersion = opts.kafkaVersion ?? previous?.kafkaVersion ?? DEFAULT_KAFKA_VERSION;
  if (!/^\d+\.\d+\.\d+[0-9A-Za-z.-]*$/.test(kafkaVersion))
    throw new Error(`bad kafkaVersion "${kafkaVersion}"`);
  const scalaVersion =
    opts.scalaVersion ??
    (opts.kafkaVersion === undefined ? previous?.scalaVersion : undefined) ??
    defaultScalaVersion(kafkaVersion);
  const zookeeperNodes = positiveInt(
    'zookeeperNodes',
    opts.zookeeperNodes ?? previous?.zookeeperNodes ?? 3,
    7,
  );
  const brokers = positiveInt('brokers', opts.brokers ?? previous?.brokers ?? 4, 20);
  const basePorts: LabBasePorts = { ...DEFAULT_BASE_PORTS, ...previous?.basePorts, ...opts.basePorts };
  for (const [k, v] of Object.entries(basePorts)) {
    if (!Number.isInteger(v) || v < 1024 || v > 64_000)
      throw new Error(`lab basePorts.${k} must be 1024..64000, got ${v}`);
  }
  const brokerConfig: Record<string, string> = { ...previous?.brokerConfig };
  for (const [k, v] of Object.entries(opts.brokerConfig ?? {})) brokerConfig[k] = String(v);
  const javaHome = process.env['JAVA_HOME'];
  return {
    workDir,
    kafkaVersion,
    scalaVersion,
    zookeeperNodes,
    brokers,
    basePorts,
    cacheDir: resolve(
      opts.cacheDir ??
        previous?.cacheDir ??
        process.env['FABRIC_OPSBOT_LAB_CACHE'] ??
        join(repoRoot(), '.lab'),
    ),
    javaBin: opts.javaBin ?? previous?.javaBin ?? (javaHome ? join(javaHome, 'bin', 'java') : 'java'),
    brokerHeapMb: opts.brokerHeapMb ?? previous?.brokerHeapMb ?? 384,
    zookeeperHeapMb: opts.zookeeperHeapMb ?? previous?.zookeeperHeapMb ?? 128,
    jvmOpts: opts.jvmOpts ?? previous?.jvmOpts ?? [],
    brokerConfig,
    zkSessionTimeoutMs: opts.zkSessionTimeoutMs ?? previous?.zkSessionTimeoutMs ?? 6000,
    channels: opts.channels ?? previous?.channels ?? [...DEFAULT_CHANNELS],
    redis: opts.redis ?? previous?.redis ?? true,
    timeoutMs: opts.timeoutMs ?? previous?.timeoutMs ?? 180_000,
    containers: opts.containers ?? previous?.containers ?? false,
    orderers: nonNegativeInt('orderers', opts.orderers ?? previous?.orderers ?? 0, 9),
    fabricVersion: opts.fabricVersion ?? previous?.fabricVersion ?? DEFAULT_FABRIC_VERSION,
    security: opts.security ?? previous?.security ?? false,
  };
}

/** Port helpers: ids are 1-based. */
export const ports = {
  zookeeper: (o: ResolvedLabOptions, n: number) => o.basePorts.zookeeper + n - 1,
  zookeeperPeer: (o: ResolvedLabOptions, n: number) => o.basePorts.zookeeperPeer + n - 1,
  zookeeperElection: (o: ResolvedLabOptions, n: number) => o.basePorts.zookeeperElection + n - 1,
  kafka: (o: ResolvedLabOptions, id: number) => o.basePorts.kafka + id - 1,
  /** Where a broker advertises itself in the "unreachable listener" fault: nothing listens there. */
  unreachable: (o: ResolvedLabOptions, id: number) => o.basePorts.kafka + id - 1 + 1000,
  orderer: (o: ResolvedLabOptions, n: number) => o.basePorts.orderer + n - 1,
  ordererOperations: (o: ResolvedLabOptions, n: number) => o.basePorts.ordererOperations + n - 1,
  ordererAdmin: (o: ResolvedLabOptions, n: number) => o.basePorts.ordererAdmin + n - 1,
};

/** "127.0.0.1:12181,127.0.0.1:12182,..." */
export function zookeeperConnect(o: ResolvedLabOptions): string {
  return Array.from({ length: o.zookeeperNodes }, (_, i) => `127.0.0.1:${ports.zookeeper(o, i + 1)}`).join(
    ',',
  );
}
