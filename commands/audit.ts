/**
 * `audit tail [-n N]`, `audit verify`, `audit export [--since ID]`: the hash-chained audit log in Redis.
 *
 * Exit codes: 0 ok (verify: the chain is intact), 2 verify found a broken link, 3 Redis could not be reached
 * (or the inventory could not be read), 64 usage error.
 */
import type { Command } from 'commander';
import type { AuditLog, AuditRecord, VerifyResult } from '../src/audit/index.js';
import { isStreamId } from '../src/audit/chain.js';
import { cliUser, globalOptions, type CliContext } from '../src/cli/context.js';
import { EXIT_NO_REDIS, withCliRedis } from '../src/cli/redis.js';
import { configPath, loadInventory, type Inventory } from '../src/config/index.js';
import { UsageError } from '../src/errors/index.js';

export const EXIT_BROKEN = 2;
export { EXIT_NO_REDIS };

/** Load the inventory (no cluster needed: the audit log is shared by all clusters), connect, run, close. */
async function withAudit(
  cmd: Command,
  ctx: CliContext,
  fn: (log: AuditLog, inventory: Inventory) => Promise<void>,
): Promise<void> {
  const file = configPath(globalOptions(cmd).config, ctx.io.env, ctx.io.cwd);
  const inventory = loadInventory(file);
  const { auditLogFor } = await import('../src/audit/index.js');
  // Retention runs explicitly (after an export), not on the CLI's own appends.
  await withCliRedis(ctx, inventory, 'request', (redis) => fn(auditLogFor(redis, inventory, 0), inventory));
}

function oneLine(v: unknown, max = 120): string {
  const s = JSON.stringify(v);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
}

export function renderTail(records: AuditRecord[]): string {
  if (records.length === 0) return 'the audit log is empty\n';
  return records
    .map((r) => {
      const e = r.entry;
      if (e === null) return `${r.id}  (not a readable audit entry: run \`audit verify\`)`;
      const details = Object.keys(e.details).length > 0 ? `  ${oneLine(e.details)}` : '';
      return [e.when, r.id, e.who, e.what, e.cluster ?? '-', e.outcome, e.where, e.jobId ?? '-']
        .join('  ')
        .concat(details);
    })
    .join('\n')
    .concat('\n');
}

export function renderVerify(r: VerifyResult): string {
  const from = r.anchorId !== null ? ` after the trim anchor ${r.anchorId}` : '';
  if (r.ok) {
    const range = r.firstId !== null ? ` (${r.firstId} .. ${r.lastId ?? r.firstId})` : '';
    return `audit log intact: ${r.entries} entries${range}${from}, checked in ${r.ms} ms\n`;
  }
  const b = r.broken!;
  return (
    `audit log BROKEN at entry ${b.id} (${b.reason}): ${b.message}\n` +
    `  ${r.entries} entries${from} before it are intact; the break was noticed at entry ${b.at}\n`
  );
}

function parseCount(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1 || n > 100_000) {
    throw new UsageError(`-n must be a whole number from 1 to 100000, not "${text}"`);
  }
  return n;
}

export function register(program: Command, ctx: CliContext): void {
  const audit = program
    .command('audit')
    .description('read, verify and export the audit log (one hash-chained log for all clusters)');

  audit
    .command('tail')
    .description('the newest audit entries, oldest first')
    .option('-n <count>', 'how many entries', '20')
    .addHelpText('after', '\nExit codes: 0 ok, 3 Redis unreachable, 64 usage error.')
    .action(async (opts: { n: string }, cmd: Command) => {
      const n = parseCount(opts.n);
      await withAudit(cmd, ctx, async (log) => {
        const records = await log.tail(n);
        if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify(records, null, 2)}\n`);
        else ctx.io.out(renderTail(records));
      });
    });

  audit
    .command('verify')
    .description("verify the audit log's hash chain and name the first broken link")
    .addHelpText('after', '\nExit codes: 0 intact, 2 broken, 3 Redis unreachable, 64 usage error.')
    .action(async (_opts: unknown, cmd: Command) => {
      await withAudit(cmd, ctx, async (log) => {
        const r = await log.verify();
        if (globalOptions(cmd).json) ctx.io.out(`${JSON.stringify(r, null, 2)}\n`);
        else ctx.io.out(renderVerify(r));
        ctx.exitCode = r.ok ? 0 : EXIT_BROKEN;
      });
    });

  audit
    .command('export')
    .description(
      'print entries as JSON lines (chain fields included, verifiable offline) and move the export mark; ' +
        'retention only ever removes exported entries',
    )
    .option('--since <id>', 'entries after this stream id ("0" = all kept); default: after the export mark')
    .option('--limit <count>', 'at most this many entries')
    .option('--no-mark', 'do not move the export mark (and do not apply retention)')
    .addHelpText('after', '\nExit codes: 0 ok, 3 Redis unreachable, 64 usage error.')
    .action(async (opts: { since?: string; limit?: string; mark: boolean }, cmd: Command) => {
      if (opts.since !== undefined && opts.since !== '0' && !isStreamId(opts.since)) {
        throw new UsageError(`--since must be a stream id like 1700000000000-0 (or 0), not "${opts.since}"`);
      }
      const limit = opts.limit !== undefined ? parseCount(opts.limit) : undefined;
      await withAudit(cmd, ctx, async (log) => {
        const r = await log.export({
          ...(opts.since !== undefined ? { sinceId: opts.since } : {}),
          ...(limit !== undefined ? { limit } : {}),
          record: opts.mark,
          write: (lines) => ctx.io.out(lines),
        });
        if (r.gap) {
          ctx.io.err(
            `fabric-opsbot: warning: entries between ${opts.since ?? 'the start'} and the trim anchor were already removed by retention\n`,
          );
        }
        if (!opts.mark) return;
        const retained = await log.retain();
        if (r.count > 0 || retained.trimmed > 0) {
          await log.append({
            who: cliUser(ctx.io),
            what: 'export',
            where: 'cli',
            details: {
              from: r.from,
              firstId: r.firstId,
              lastId: r.lastId,
              count: r.count,
              trimmed: retained.trimmed,
            },
          });
        }
        if (ctx.io.isTTY) {
          ctx.io.err(
            `exported ${r.count} entries${r.lastId ? ` (export mark now ${r.lastId})` : ''}; retention removed ${retained.trimmed}\n`,
          );
        }
      });
    });
}
