/**
 * The lab's Fabric network material, all under `<workDir>/fabric/`: crypto material (cryptogen: OrdererMSP with
 * orderer1..N.example.com, Org1MSP with Admin and User1), configtx.yaml, the system channel's genesis block
 * (configtxgen, OrdererType kafka, the lab's brokers), and channel creation transactions. Templates are in
 * `lab/fabric/`. Nothing here starts a process that stays.
 */
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { replication } from '../configs.js';
import { ports, repoRoot, type ResolvedLabOptions } from '../options.js';

/** The system channel (the name Fabric's samples used, as in the seeds). */
export const SYSTEM_CHANNEL = 'testchainid';
export const ORDERER_MSP = 'OrdererMSP';
export const ORG_MSP = 'Org1MSP';
/** How the lab's orderers cut blocks (configtx.yaml): small blocks, quickly. */
export const BATCH_TIMEOUT = '1s';
export const MAX_MESSAGE_COUNT = 10;
/**
 * Kafka.Version in orderer.yaml: Fabric maps every version >= 1.0.0 to Sarama's V1_0_0_0 (its highest), so
 * "1.0.0" says exactly what the orderer speaks; Kafka 3.9 still answers those request versions.
 */
export const ORDERER_KAFKA_VERSION = '1.0.0';
/** Kafka.Retry in orderer.yaml: fast retries, so a padded channel recovers in about a second. */
export const ORDERER_RETRY = {
  shortInterval: '1s',
  shortTotal: '10m',
  longInterval: '10s',
  longTotal: '12h',
} as const;

export function ordererName(n: number): string {
  return `orderer${n}.example.com`;
}

export function networkDir(o: Pick<ResolvedLabOptions, 'workDir'>): string {
  return join(o.workDir, 'fabric');
}

export function networkPaths(o: Pick<ResolvedLabOptions, 'workDir'>) {
  const dir = networkDir(o);
  const crypto = join(dir, 'crypto');
  return {
    dir,
    crypto,
    cryptoConfig: join(dir, 'crypto-config.yaml'),
    configtx: join(dir, 'configtx.yaml'),
    genesis: join(dir, 'genesis.block'),
    /** cryptogen output of Org1's users. */
    adminMsp: join(crypto, 'peerOrganizations', 'org1.example.com', 'users', 'Admin@org1.example.com', 'msp'),
    userMsp: join(crypto, 'peerOrganizations', 'org1.example.com', 'users', 'User1@org1.example.com', 'msp'),
    ordererAdminMsp: join(crypto, 'ordererOrganizations', 'example.com', 'users', 'Admin@example.com', 'msp'),
    channelTx: (channel: string) => join(dir, `${channel}.tx`),
  };
}

/** Where orderer n keeps everything: `<workDir>/orderer<n>.example.com/`. */
export function ordererPaths(o: Pick<ResolvedLabOptions, 'workDir'>, n: number) {
  const name = ordererName(n);
  const dir = join(o.workDir, name);
  return {
    name,
    dir,
    /** orderer.yaml (FABRIC_CFG_PATH = dir). */
    config: join(dir, 'orderer.yaml'),
    /** FileLedger.Location. */
    ledgerDir: join(dir, 'ledger'),
    /** stdout + stderr of the orderer (its whole log). */
    logFile: join(dir, 'orderer.log'),
    /** A symlink to the cached binary: the process's command line names this lab and this orderer. */
    bin: join(dir, 'bin', 'orderer'),
    msp: join(networkDir(o), 'crypto', 'ordererOrganizations', 'example.com', 'orderers', name, 'msp'),
  };
}

/** Fills `${NAME}` placeholders of a template in lab/fabric/; every placeholder must be given. */
export function renderTemplate(file: string, values: Record<string, string | number>): string {
  const text = readFileSync(join(repoRoot(), 'lab', 'fabric', file), 'utf8');
  // Comment lines name the placeholders: fill only the rest.
  const out = text
    .split('\n')
    .map((line) =>
      line.trimStart().startsWith('#')
        ? line
        : line.replace(/\$\{([A-Z_]+)\}/g, (m, name: string) => {
            const v = values[name];
            if (v === undefined) throw new Error(`lab/fabric/${file}: no value for ${m}`);
            return String(v);
          }),
    )
    .join('\n');
  return out;
}

function flowList(items: string[]): string {
  return `[${items.map((s) => JSON.stringify(s)).join(', ')}]`;
}

export function run(cmd: string, args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}) {
  return new Promise<string>((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd: opts.cwd, env: opts.env ?? process.env, timeout: 120_000, maxBuffer: 16 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${cmd} ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
  });
}

/** The orderer hostnames cryptogen has already made certificates for. */
function ordererCerts(o: ResolvedLabOptions): number {
  const dir = join(networkPaths(o).crypto, 'ordererOrganizations', 'example.com', 'orderers');
  if (!existsSync(dir)) return 0;
  return readdirSync(dir).filter((d) => /^orderer\d+\.example\.com$/.test(d)).length;
}

/**
 * Crypto material for `count` orderers (cryptogen generate, or extend when orderers were added), configtx.yaml
 * and the genesis block (made once: a running network keeps its system channel). Idempotent.
 */
export async function ensureNetwork(o: ResolvedLabOptions, binDir: string, count: number): Promise<void> {
  const p = networkPaths(o);
  mkdirSync(p.dir, { recursive: true });
  const n = Math.max(count, ordererCerts(o));
  writeFileSync(
    p.cryptoConfig,
    renderTemplate('crypto-config.yaml', {
      ORDERER_SPECS: `[${Array.from({ length: n }, (_, i) => `{ Hostname: orderer${i + 1} }`).join(', ')}]`,
    }),
  );
  const have = ordererCerts(o);
  if (have === 0) {
    // Into a temporary folder, renamed: an interrupted run leaves no half-made MSP behind.
    const tmp = `${p.crypto}.tmp`;
    await run('rm', ['-rf', tmp]);
    await run(join(binDir, 'cryptogen'), ['generate', '--config', p.cryptoConfig, '--output', tmp]);
    renameSync(tmp, p.crypto);
  } else if (have < n) {
    await run(join(binDir, 'cryptogen'), ['extend', '--config', p.cryptoConfig, '--input', p.crypto]);
  }
  writeFileSync(
    p.configtx,
    renderTemplate('configtx.yaml', {
      CRYPTO: p.crypto,
      ORDERER_ENDPOINTS: flowList(
        Array.from({ length: n }, (_, i) => `127.0.0.1:${ports.orderer(o, i + 1)}`),
      ),
      KAFKA_BROKERS: flowList(
        Array.from({ length: o.brokers }, (_, i) => `127.0.0.1:${ports.kafka(o, i + 1)}`),
      ),
      BATCH_TIMEOUT,
      MAX_MESSAGE_COUNT,
    }),
  );
  if (!existsSync(p.genesis)) {
    const tmp = `${p.genesis}.tmp`;
    await run(
      join(binDir, 'configtxgen'),
      ['-profile', 'LabOrdererGenesis', '-channelID', SYSTEM_CHANNEL, '-outputBlock', tmp],
      { env: { ...process.env, FABRIC_CFG_PATH: p.dir } },
    );
    renameSync(tmp, p.genesis);
  }
}

/** configtxgen's channel creation transaction (a CONFIG_UPDATE, unsigned) for `channel`, made once. */
export async function channelCreateTx(
  o: ResolvedLabOptions,
  binDir: string,
  channel: string,
): Promise<string> {
  const p = networkPaths(o);
  const file = p.channelTx(channel);
  if (!existsSync(file)) {
    const tmp = `${file}.tmp`;
    await run(
      join(binDir, 'configtxgen'),
      ['-profile', 'LabChannel', '-channelID', channel, '-outputCreateChannelTx', tmp],
      { env: { ...process.env, FABRIC_CFG_PATH: p.dir } },
    );
    renameSync(tmp, file);
  }
  return file;
}

/** orderer.yaml of orderer n. */
export function ordererYaml(o: ResolvedLabOptions, n: number): string {
  const p = ordererPaths(o, n);
  return renderTemplate('orderer.yaml', {
    PORT: ports.orderer(o, n),
    OPERATIONS_PORT: ports.ordererOperations(o, n),
    ADMIN_PORT: ports.ordererAdmin(o, n),
    GENESIS: networkPaths(o).genesis,
    MSP_DIR: p.msp,
    LEDGER_DIR: p.ledgerDir,
    DIR: p.dir,
    KAFKA_VERSION: ORDERER_KAFKA_VERSION,
    REPLICATION_FACTOR: replication(o).rf,
    RETRY_SHORT_INTERVAL: ORDERER_RETRY.shortInterval,
    RETRY_SHORT_TOTAL: ORDERER_RETRY.shortTotal,
    RETRY_LONG_INTERVAL: ORDERER_RETRY.longInterval,
    RETRY_LONG_TOTAL: ORDERER_RETRY.longTotal,
  });
}
