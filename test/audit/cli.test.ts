import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command, CommanderError } from 'commander';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { register } from '../../commands/audit.js';
import { AuditLog, verifyExport } from '../../src/audit/index.js';
import type { CliContext, CliIo } from '../../src/cli/context.js';
import { UsageError } from '../../src/errors/index.js';
import { startRedis, type TestRedis } from '../helpers/redis.js';

// The audit commands on their own program (same global options and error mapping as src/cli/main.ts), so that
// this test does not depend on every other command being present.
async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const io: CliIo = { out: (s) => (out += s), err: (s) => (err += s), env, cwd: dir, isTTY: false };
  const ctx: CliContext = { io, exitCode: 0 };
  const program = new Command('fabric-opsbot')
    .option('--config <path>')
    .option('--cluster <name>')
    .option('--json')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.out(s), writeErr: () => undefined });
  register(program, ctx);
  for (const c of program.commands) {
    c.exitOverride();
    for (const s of c.commands)
      s.exitOverride().configureOutput({ writeOut: (x) => io.out(x), writeErr: () => undefined });
  }
  try {
    await program.parseAsync(argv, { from: 'user' });
    return { code: ctx.exitCode, out, err };
  } catch (e) {
    if (e instanceof CommanderError) return { code: e.code === 'commander.helpDisplayed' ? 0 : 64, out, err };
    if (e instanceof UsageError) return { code: 64, out, err: err + e.message };
    return { code: 3, out, err: err + String(e) };
  }
}

let srv: TestRedis;
let dir: string;
let inv: string;
const prefix = 'cli';

beforeAll(async () => {
  srv = await startRedis();
  dir = mkdtempSync(join(tmpdir(), 'opsbot-audit-cli-'));
  inv = join(dir, 'inv.yaml');
  writeFileSync(
    inv,
    [
      'clusters:',
      '  lab:',
      '    kafka: { brokers: ["127.0.0.1:19092"] }',
      '    zookeeper: { connect: "127.0.0.1:12181" }',
      'redis:',
      `  url: redis://127.0.0.1:${srv.port}`,
      `  prefix: ${prefix}`,
      'audit: { maxEntries: 3 }',
      '',
    ].join('\n'),
  );
});
afterAll(async () => {
  await srv?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});
beforeEach(async () => srv.flush());

async function seed(n: number): Promise<string[]> {
  const r = srv.client();
  const log = new AuditLog(r, { prefix });
  const ids: string[] = [];
  for (let i = 0; i < n; i++)
    ids.push((await log.append({ who: 'U1', what: 'command', where: 'cli', details: { i } })).id);
  r.disconnect();
  return ids;
}

describe('audit CLI', () => {
  it('tail -n N prints the newest entries (text and --json)', async () => {
    const ids = await seed(5);
    const t = await run(['audit', 'tail', '-n', '2', '--config', inv]);
    expect(t.code).toBe(0);
    expect(t.out.trim().split('\n')).toHaveLength(2);
    expect(t.out).toContain(ids[4]);
    const j = await run(['--json', 'audit', 'tail', '-n', '3', '--config', inv]);
    expect(JSON.parse(j.out).map((r: { id: string }) => r.id)).toEqual(ids.slice(2));
  });

  it('tail -n rejects a non-number (64)', async () => {
    const t = await run(['audit', 'tail', '-n', 'many', '--config', inv]);
    expect(t.code).toBe(64);
    expect(t.err).toMatch(/-n must be a whole number/);
  });

  it('verify exits 0 when intact and 2 with the first broken link', async () => {
    const ids = await seed(6);
    const ok = await run(['audit', 'verify', '--config', inv]);
    expect(ok.code).toBe(0);
    expect(ok.out).toMatch(/audit log intact: 6 entries/);
    const r = srv.client();
    await r.xdel(`${prefix}:audit`, ids[2]!);
    const bad = await run(['audit', 'verify', '--config', inv]);
    expect(bad.code).toBe(2);
    expect(bad.out).toContain(`BROKEN at entry ${ids[2]} (missing)`);
    const j = await run(['audit', 'verify', '--json', '--config', inv]);
    expect(j.code).toBe(2);
    expect(JSON.parse(j.out)).toMatchObject({ ok: false, broken: { id: ids[2], reason: 'missing' } });
    r.disconnect();
  });

  it('export prints JSON lines, moves the mark, then retention trims only what was exported', async () => {
    const ids = await seed(6);
    const x = await run(['audit', 'export', '--config', inv]);
    expect(x.code).toBe(0);
    const lines = x.out.trim().split('\n');
    expect(lines).toHaveLength(6);
    expect(verifyExport(lines).ok).toBe(true);
    const r = srv.client();
    const log = new AuditLog(r, { prefix });
    const m = await log.meta();
    expect(m.exportedId).toBe(ids[5]);
    // maxEntries 3: the three oldest went, plus the export's own entry is now in the log.
    expect(m.anchorId).toBe(ids[2]);
    expect((await log.tail(1))[0]!.entry).toMatchObject({
      what: 'export',
      details: { count: 6, trimmed: 3 },
    });
    expect((await log.verify()).ok).toBe(true);
    // Incremental: the next export has only the export entry.
    const y = await run(['audit', 'export', '--config', inv]);
    expect(y.out.trim().split('\n')).toHaveLength(1);
    const z = await run(['audit', 'export', '--since', ids[3]!, '--no-mark', '--config', inv]);
    expect(z.out.trim().split('\n').length).toBeGreaterThanOrEqual(3);
    r.disconnect();
  });

  it('export --since rejects what is not a stream id (64)', async () => {
    const x = await run(['audit', 'export', '--since', 'yesterday', '--config', inv]);
    expect(x.code).toBe(64);
    expect(x.err).toMatch(/--since must be a stream id/);
  });

  it('through the real entry point (src/cli/main.ts): verify exits 0, then 2 after tampering', async () => {
    const { main } = await import('../../src/cli/main.js');
    const ids = await seed(3);
    let out = '';
    const io: CliIo = { out: (s) => (out += s), err: () => undefined, env: {}, cwd: dir, isTTY: false };
    expect(await main(['audit', 'verify', '--config', inv, '--json'], io)).toBe(0);
    expect(JSON.parse(out)).toMatchObject({ ok: true, entries: 3 });
    const r = srv.client();
    await r.xdel(`${prefix}:audit`, ids[1]!);
    r.disconnect();
    expect(await main(['audit', 'verify', '--config', inv], io)).toBe(2);
    expect(await main(['audit', 'export', '--since', 'x', '--config', inv], io)).toBe(64);
  });

  it('exits 3 at once with the address when Redis is down', async () => {
    await srv.pause();
    try {
      for (const cmd of [
        ['audit', 'verify'],
        ['audit', 'tail'],
        ['audit', 'export'],
      ]) {
        const t0 = Date.now();
        const r = await run([...cmd, '--config', inv]);
        expect(Date.now() - t0).toBeLessThan(3000);
        expect(r.code).toBe(3);
        expect(r.out).toBe('');
        expect(r.err).toMatch(
          new RegExp(`cannot reach Redis at 127\\.0\\.0\\.1:${srv.port}: connect ECONNREFUSED`),
        );
      }
    } finally {
      await srv.start();
    }
  });
});
