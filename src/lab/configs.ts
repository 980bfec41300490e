/**
 * The files and command lines of the lab's processes: zoo.cfg, server.properties, log4j.properties, JVM flags.
 */
import { join } from 'node:path';
import { ports, zookeeperConnect, type ResolvedLabOptions } from './options.js';
import { securityBrokerSettings } from './security.js';

/**
 * JVM flags every lab JVM gets. Nothing here is specific to an old Kafka: Kafka 1.0.2 runs on JDK 17 with
 * none of --add-opens / --add-exports (it unmaps index files through sun.misc.Unsafe.invokeCleaner, which
 * JDK 9+ still exports). What must NOT be passed on JDK 17 is the GC logging of Kafka 1.x's
 * kafka-run-class.sh for Java 8 (-XX:+PrintGCDateStamps, -XX:+PrintGCTimeStamps, -XX:+UseGCLogFileRotation)
 * nor CMS/ParNew flags: JDK 17 refuses to start with them ("Unrecognized VM option").
 */
export function baseJvmFlags(o: ResolvedLabOptions, heapMb: number): string[] {
  return [
    `-Xmx${heapMb}m`,
    `-Xms${Math.min(64, heapMb)}m`,
    // Fast start on a 2-core machine: little JIT and GC work. Overridable via jvmOpts (later flags win; a GC
    // chosen there replaces this one, as the JVM refuses two).
    ...(o.jvmOpts.some((f) => /^-XX:\+Use\w+GC$/.test(f)) ? [] : ['-XX:+UseSerialGC']),
    '-XX:TieredStopAtLevel=1',
    '-XX:-UsePerfData',
    '-XX:+ExitOnOutOfMemoryError',
    '-Djava.awt.headless=true',
    '-Djava.net.preferIPv4Stack=true',
    `-Dlog4j.configuration=file:${join(o.workDir, 'log4j.properties')}`,
    // ZooKeeper (3.4 and 3.8) registers log4j MBeans from org.apache.log4j.jmx, which reload4j 1.2.25 dropped.
    '-Dzookeeper.jmx.log4j.disable=true',
    ...o.jvmOpts,
  ];
}

/** log4j 1.x configuration shared by all lab JVMs; each JVM names its file with -Dlab.log.file. */
export function log4jProperties(): string {
  return [
    '# Written by fabric-opsbot lab: one log file per process (-Dlab.log.file), everything at INFO.',
    'log4j.rootLogger=INFO, file',
    'log4j.appender.file=org.apache.log4j.RollingFileAppender',
    'log4j.appender.file.File=${lab.log.file}',
    'log4j.appender.file.MaxFileSize=50MB',
    'log4j.appender.file.MaxBackupIndex=2',
    'log4j.appender.file.layout=org.apache.log4j.PatternLayout',
    'log4j.appender.file.layout.ConversionPattern=[%d] %p %m (%c)%n',
    // Kafka's own log4j.properties sends these to controller.log / state-change.log; here all is in server.log.
    'log4j.logger.kafka.controller=INFO',
    'log4j.logger.state.change.logger=INFO',
    'log4j.logger.kafka.request.logger=WARN',
    'log4j.logger.kafka.authorizer.logger=WARN',
    'log4j.logger.org.apache.zookeeper=INFO',
    '',
  ].join('\n');
}

export interface ZkPaths {
  dir: string;
  dataDir: string;
  config: string;
  logFile: string;
  outFile: string;
}

export function zkPaths(o: ResolvedLabOptions, n: number): ZkPaths {
  const dir = join(o.workDir, `zookeeper-${n}`);
  return {
    dir,
    dataDir: join(dir, 'data'),
    config: join(dir, 'zoo.cfg'),
    logFile: join(dir, 'zookeeper.log'),
    outFile: join(dir, 'stdout.log'),
  };
}

export function zooCfg(o: ResolvedLabOptions, n: number): string {
  const lines = [
    '# Written by fabric-opsbot lab.',
    'tickTime=500',
    'initLimit=20',
    'syncLimit=10',
    'minSessionTimeout=1000',
    'maxSessionTimeout=30000',
    `dataDir=${zkPaths(o, n).dataDir}`,
    `clientPort=${ports.zookeeper(o, n)}`,
    'clientPortAddress=127.0.0.1',
    'maxClientCnxns=0',
    'admin.enableServer=false',
    '4lw.commands.whitelist=srvr,mntr,ruok,stat,conf,cons',
    'autopurge.snapRetainCount=3',
    'autopurge.purgeInterval=1',
  ];
  if (o.zookeeperNodes > 1) {
    for (let i = 1; i <= o.zookeeperNodes; i++) {
      lines.push(`server.${i}=127.0.0.1:${ports.zookeeperPeer(o, i)}:${ports.zookeeperElection(o, i)}`);
    }
  }
  return lines.join('\n') + '\n';
}

export function zkCommand(o: ResolvedLabOptions, n: number, jarsDir: string): string[] {
  return [
    ...baseJvmFlags(o, o.zookeeperHeapMb),
    `-Dlab.log.file=${zkPaths(o, n).logFile}`,
    '-cp',
    join(jarsDir, '*'),
    'org.apache.zookeeper.server.quorum.QuorumPeerMain',
    zkPaths(o, n).config,
  ];
}

export interface BrokerPaths {
  dir: string;
  /** Kafka's log.dirs: the partition folders. */
  dataDir: string;
  config: string;
  /** The broker's own log (log4j). */
  serverLog: string;
  outFile: string;
}

export function brokerPaths(o: ResolvedLabOptions, id: number): BrokerPaths {
  const dir = join(o.workDir, `kafka-${id}`);
  return {
    dir,
    dataDir: join(dir, 'data'),
    config: join(dir, 'server.properties'),
    serverLog: join(dir, 'server.log'),
    outFile: join(dir, 'stdout.log'),
  };
}

/** Replication settings scaled down for labs with fewer than 4 brokers. */
export function replication(o: ResolvedLabOptions): { rf: number; minIsr: number } {
  const rf = Math.min(3, o.brokers);
  return { rf, minIsr: Math.min(2, rf) };
}

/**
 * The broker settings: Fabric's recommendations (docs/source/kafka.rst, seed 003) plus short timeouts so that
 * faults show within seconds. `advertised` replaces the advertised listener (the unreachable-listener fault).
 */
export function brokerSettings(
  o: ResolvedLabOptions,
  id: number,
  advertised: string | null,
): Record<string, string> {
  const port = ports.kafka(o, id);
  const { rf, minIsr } = replication(o);
  const s: Record<string, string> = {
    'broker.id': String(id),
    listeners: `PLAINTEXT://127.0.0.1:${port}`,
    'advertised.listeners': advertised ?? `PLAINTEXT://127.0.0.1:${port}`,
    'log.dirs': brokerPaths(o, id).dataDir,
    'zookeeper.connect': zookeeperConnect(o),
    'zookeeper.session.timeout.ms': String(o.zkSessionTimeoutMs),
    'zookeeper.connection.timeout.ms': '15000',
    // Fabric's recommendations
    'unclean.leader.election.enable': 'false',
    'min.insync.replicas': String(minIsr),
    'default.replication.factor': String(rf),
    'log.retention.ms': '-1',
    'message.max.bytes': '103809024',
    'replica.fetch.max.bytes': '103809024',
    'socket.request.max.bytes': '104857600',
    'auto.create.topics.enable': 'false',
    'delete.topic.enable': 'true',
    'num.partitions': '1',
    'offsets.topic.replication.factor': String(rf),
    'offsets.topic.num.partitions': '8',
    'transaction.state.log.replication.factor': String(rf),
    'transaction.state.log.min.isr': String(minIsr),
    'transaction.state.log.num.partitions': '4',
    // Quick failure detection and shutdown for tests
    'replica.lag.time.max.ms': '4000',
    'replica.fetch.wait.max.ms': '200',
    'controlled.shutdown.enable': 'true',
    'controlled.shutdown.max.retries': '1',
    'controlled.shutdown.retry.backoff.ms': '500',
    'group.initial.rebalance.delay.ms': '0',
    'replica.high.watermark.checkpoint.interval.ms': '1000',
    // Small machine: few threads, small buffers
    'num.network.threads': '2',
    'num.io.threads': '2',
    'background.threads': '2',
    'num.recovery.threads.per.data.dir': '1',
    'log.cleaner.threads': '1',
    'log.cleaner.dedupe.buffer.size': '8388608',
    'log.index.size.max.bytes': '1048576',
  };
  if (o.security) Object.assign(s, securityBrokerSettings(o, id));
  for (const [k, v] of Object.entries(o.brokerConfig)) s[k] = v;
  if (advertised !== null) s['advertised.listeners'] = advertised;
  return s;
}

export function serverProperties(settings: Record<string, string>): string {
  return (
    '# Written by fabric-opsbot lab (rewritten at every broker start).\n' +
    Object.entries(settings)
      .map(([k, v]) => `${k}=${v}`)
      .join('\n') +
    '\n'
  );
}

export function brokerCommand(o: ResolvedLabOptions, id: number, jarsDir: string): string[] {
  const p = brokerPaths(o, id);
  return [
    ...baseJvmFlags(o, o.brokerHeapMb),
    `-Dlab.log.file=${p.serverLog}`,
    `-Dkafka.logs.dir=${p.dir}`,
    '-cp',
    join(jarsDir, '*'),
    'kafka.Kafka',
    p.config,
  ];
}
