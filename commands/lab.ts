/** `lab up | down | status | fault ...`: the local real cluster on 127.0.0.1, and faults to inject into it. */
import { InvalidArgumentError, type Command } from 'commander';
import { globalOptions, type CliContext } from '../src/cli/context.js';
import type { LabStatus } from '../src/lab/index.js';
import { DEFAULT_BASE_PORTS, DEFAULT_KAFKA_VERSION, defaultWorkDir } from '../src/lab/options.js';

/** The lab library (and kafkajs behind it) is loaded only when a lab command runs. */
const labLib = () => import('../src/lab/index.js');

function wholeNumber(what: string) {
  return (value: string): number => {
    if (!/^\d+$/.test(value))
      throw new InvalidArgumentError(`${what} must be a whole number, got "${value}"`);
    return Number(value);
  };
}

/** "1,2,3:2,3,4" -> [[1,2,3],[2,3,4]]: replicas of partition 0, 1, ... */
function assignment(value: string): number[][] {
  const parts = value.split(':').map((p) => p.split(',').map((x) => x.trim()));
  if (parts.some((p) => p.length === 0 || p.some((x) => !/^\d+$/.test(x)))) {
    throw new InvalidArgumentError(
      `assignment must look like "1,2,3:2,3,4" (replicas of partition 0, 1, ...), got "${value}"`,
    );
  }
  return parts.map((p) => p.map(Number));
}

function keyValue(value: string, previous: Record<string, string> = {}): Record<string, string> {
  const i = value.indexOf('=');
  if (i <= 0) throw new InvalidArgumentError(`config must be key=value, got "${value}"`);
  return { ...previous, [value.slice(0, i)]: value.slice(i + 1) };
}

function renderStatus(s: LabStatus): string {
  const state = (running: boolean) => (running ? 'running' : 'STOPPED');
  const lines = [
    `lab ${s.workDir} (Kafka ${s.kafkaVersion}): ${s.running ? 'all running' : 'NOT all running'}`,
    `inventory: ${s.inventory}`,
    ...s.zookeeper.map(
      (z) => `  zookeeper ${z.id}  127.0.0.1:${z.port}  pid ${z.pid ?? '-'}  ${state(z.running)}`,
    ),
    ...s.brokers.map(
      (b) =>
        `  broker ${b.id}     127.0.0.1:${b.port}  pid ${b.pid ?? '-'}  ${state(b.running)}` +
        (b.advertisedListener.endsWith(`:${b.port}`) ? '' : `  advertises ${b.advertisedListener}`),
    ),
    ...(s.redis
      ? [`  redis        127.0.0.1:${s.redis.port}  pid ${s.redis.pid ?? '-'}  ${state(s.redis.running)}`]
      : []),
    // Fabric orderers (lab up --orderers N)
    ...(s.orderers ?? []).map(
      (o) =>
        `  ${o.name}  127.0.0.1:${o.port}  operations ${o.operationsUrl}  pid ${o.pid ?? '-'}  ${state(o.running)}` +
        `  channels ${o.channels.join(', ')}`,
    ),
  ];
  return `${lines.join('\n')}\n`;
}

export function register(program: Command, ctx: CliContext): void {
  const lab = program
    .command('lab')
    .description('a real local ZooKeeper/Kafka/Redis cluster on 127.0.0.1 for trying the tool out')
    .option('--work-dir <dir>', 'where the lab keeps data, logs and its inventory', defaultWorkDir());
  const workDir = (cmd: Command) => cmd.optsWithGlobals<{ workDir: string }>().workDir;
  const out = (cmd: Command, status: LabStatus) =>
    ctx.io.out(globalOptions(cmd).json ? `${JSON.stringify(status, null, 2)}\n` : renderStatus(status));
  const progress = (cmd: Command) => (line: string) => {
    if (!globalOptions(cmd).json) ctx.io.err(`lab: ${line}\n`);
  };

  lab
    .command('up')
    .description('start the lab (idempotent: completes a half-up lab) and write its inventory')
    .option(
      '--kafka-version <version>',
      'Kafka release, from the official jars on Maven Central',
      DEFAULT_KAFKA_VERSION,
    )
    .option(
      '--zookeeper-nodes <n>',
      'ZooKeeper ensemble size (3, or 1 for standalone)',
      wholeNumber('zookeeper nodes'),
      3,
    )
    .option('--brokers <n>', 'number of Kafka brokers', wholeNumber('brokers'), 4)
    .option(
      '--orderers <n>',
      "real Hyperledger Fabric 2.5 orderers (Kafka consenter) that create the lab's channels; 0 stops them " +
        '(default: as many as the lab has, else 0)',
      wholeNumber('orderers'),
    )
    .option(
      '--port-offset <n>',
      `added to every default port (ZooKeeper ${DEFAULT_BASE_PORTS.zookeeper}, Kafka ${DEFAULT_BASE_PORTS.kafka}, Redis ${DEFAULT_BASE_PORTS.redis}, ...)`,
      wholeNumber('port offset'),
    )
    .option(
      '--containers',
      'run ZooKeeper and the brokers as containers on a podman engine the lab starts (host network, restart policy unless-stopped)',
    )
    .option(
      '--security',
      'also give each broker SASL_PLAINTEXT (port +100: PLAIN, SCRAM-SHA-256/512), SSL with client certificates ' +
        '(+200) and SASL_SSL (+300), a lab CA, and inventory clusters that use them (secrets in security/lab.env)',
    )
    .action(
      async (
        opts: {
          kafkaVersion: string;
          zookeeperNodes: number;
          brokers: number;
          portOffset?: number;
          containers?: boolean;
          security?: boolean;
          orderers?: number;
        },
        cmd: Command,
      ) => {
        const offset = opts.portOffset;
        const status = await (
          await labLib()
        ).labUp({
          workDir: workDir(cmd),
          kafkaVersion: opts.kafkaVersion,
          zookeeperNodes: opts.zookeeperNodes,
          brokers: opts.brokers,
          ...(opts.containers ? { containers: true } : {}),
          ...(opts.security ? { security: true } : {}),
          ...(opts.orderers !== undefined ? { orderers: opts.orderers } : {}),
          ...(offset !== undefined
            ? {
                basePorts: Object.fromEntries(
                  Object.entries(DEFAULT_BASE_PORTS).map(([k, v]) => [k, v + offset]),
                ) as unknown as typeof DEFAULT_BASE_PORTS,
              }
            : {}),
          log: progress(cmd),
        });
        out(cmd, status);
        ctx.exitCode = status.running ? 0 : 3;
      },
    );

  lab
    .command('down')
    .description('stop every process of the lab (and with --purge delete its data)')
    .option('--purge', 'also delete the work folder (the jar cache is kept)')
    .action(async (opts: { purge?: boolean }, cmd: Command) => {
      await (
        await labLib()
      ).labDown({ workDir: workDir(cmd), purge: opts.purge === true, log: progress(cmd) });
    });

  lab
    .command('status')
    .description('what runs, on which ports, with which pids')
    .action(async (_opts: unknown, cmd: Command) => {
      const status = (await labLib()).labStatus({ workDir: workDir(cmd) });
      out(cmd, status);
      ctx.exitCode = status.running ? 0 : 1;
    });

  const fault = lab
    .command('fault')
    .description('inject a failure from the seeds into the lab (and undo it)');
  const ref = (cmd: Command) => ({ workDir: workDir(cmd) });
  fault
    .command('kill-broker')
    .description('SIGKILL a broker (seed 002 when it alone holds a partition)')
    .argument('<id>', 'broker id', wholeNumber('broker id'))
    .action(
      async (id: number, _o: unknown, cmd: Command) => void (await (await labLib()).killBroker(ref(cmd), id)),
    );
  fault
    .command('start-broker')
    .description('start a stopped broker again and wait until it registers')
    .argument('<id>', 'broker id', wholeNumber('broker id'))
    .action(async (id: number, _o: unknown, cmd: Command) => (await labLib()).startBroker(ref(cmd), id));
  fault
    .command('unreachable-listener')
    .description('restart a broker advertising a loopback address nothing listens on (seed 001)')
    .argument('<id>', 'broker id', wholeNumber('broker id'))
    .action(async (id: number, _o: unknown, cmd: Command) => {
      ctx.io.err(
        `broker ${id} now advertises ${await (await labLib()).restartBrokerWithAdvertisedListener(ref(cmd), id)}\n`,
      );
    });
  fault
    .command('restore-listener')
    .description('restart a broker with its real advertised address')
    .argument('<id>', 'broker id', wholeNumber('broker id'))
    .action(async (id: number, _o: unknown, cmd: Command) =>
      (await labLib()).restoreAdvertisedListener(ref(cmd), id),
    );
  fault
    .command('stop-zookeeper')
    .description('stop one ZooKeeper ensemble member')
    .argument('<n>', 'member number (1..)', wholeNumber('member number'))
    .action(async (n: number, _o: unknown, cmd: Command) => (await labLib()).stopZookeeper(ref(cmd), n));
  fault
    .command('start-zookeeper')
    .description('start a stopped ZooKeeper member again')
    .argument('<n>', 'member number (1..)', wholeNumber('member number'))
    .action(async (n: number, _o: unknown, cmd: Command) => (await labLib()).startZookeeper(ref(cmd), n));
  fault
    .command('truncate')
    .description('an unflushed crash: the partition loses its tail back to OFFSET (seed 000)')
    .argument('<topic>')
    .argument('<partition>', 'partition', wholeNumber('partition'))
    .argument('<offset>', 'new log end offset', wholeNumber('offset'))
    .action(async (topic: string, partition: number, offset: number, _o: unknown, cmd: Command) => {
      const r = await (await labLib()).truncatePartition(ref(cmd), topic, partition, offset);
      ctx.io.err(`${topic}/${partition} cut back to offset ${r.offset}\n`);
    });
  fault
    .command('create-topic')
    .description('create a topic with a chosen replica assignment and configs')
    .argument('<name>')
    .requiredOption(
      '--assignment <replicas>',
      'replicas per partition, e.g. "2" (RF 1 on broker 2) or "1,2,3:2,3,4"',
      assignment,
    )
    .option(
      '--topic-config <key=value>',
      'a topic config (repeatable); not --config, the inventory option',
      keyValue,
    )
    .action(
      async (
        name: string,
        opts: { assignment: number[][]; topicConfig?: Record<string, string> },
        cmd: Command,
      ) => {
        await (
          await labLib()
        ).createTopic(ref(cmd), {
          name,
          replicaAssignment: opts.assignment,
          configs: opts.topicConfig ?? {},
        });
      },
    );
  fault
    .command('heal')
    .description('undo every fault: all brokers and ZooKeeper members running with their real addresses')
    .action(async (_o: unknown, cmd: Command) => (await labLib()).healLab(ref(cmd)));
}
