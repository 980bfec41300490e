import { describe, expect, it } from 'vitest';
import { main } from '../../src/cli/main.js';
import type { CliIo } from '../../src/cli/context.js';

async function run(argv: string[], env: NodeJS.ProcessEnv = {}) {
  let out = '';
  let err = '';
  const io: CliIo = {
    out: (s) => (out += s),
    err: (s) => (err += s),
    env,
    cwd: '/nonexistent',
    isTTY: false,
  };
  const code = await main(argv, io);
  return { code, out, err };
}

describe('command line', () => {
  it.each([
    [['frobnicate'], /unknown command 'frobnicate'/],
    [['diagnose', '--bogus'], /unknown option '--bogus'/],
    [['status'], /missing required argument 'channel'/],
    [['whatif', 'stop-broker'], /missing required argument 'id'/],
    [['whatif', 'stop-broker', 'two'], /broker id must be a whole number/],
  ])('%j is a usage error: exit 64, one line on stderr, nothing on stdout', async (argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(64);
    expect(r.out).toBe('');
    expect(r.err).toMatch(message);
    expect(r.err.trimEnd().split('\n')).toHaveLength(1);
  });

  it('with no arguments prints help on stderr and exits 64', async () => {
    const r = await run([]);
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/Usage: fabric-opsbot/);
  });

  it.each([['diagnose'], ['status'], ['whatif'], ['repair'], ['audit'], ['lab'], ['bot'], ['worker']])(
    '%s --help describes the command and exits 0',
    async (cmd) => {
      const r = await run([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.out).toMatch(new RegExp(`Usage: fabric-opsbot ${cmd}`));
    },
  );

  it('a missing inventory exits 3 and says how to point at one', async () => {
    const r = await run(['diagnose', '--config', '/nonexistent/inv.yaml']);
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/\/nonexistent\/inv\.yaml: cannot read the inventory \(no such file\)/);
    expect(r.out).toBe('');
  });
});
