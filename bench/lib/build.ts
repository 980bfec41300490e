/**
 * A private build of the CLI for a benchmark's fresh processes. dist/ is shared with everyone working in this
 * tree and is rebuilt under a running benchmark's feet (a worker that started while `tsc` was rewriting dist/
 * failed with "does not provide an export named ConfigError"), so a benchmark compiles src/, commands/ and
 * workers/ once into its own folder and runs `node <folder>/fabric-opsbot.js` from there. tsc emits even when
 * the tree has type errors (other people's edits in progress): they are counted and reported, not fatal.
 */
import { existsSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from '../../src/lab/index.js';
import { runCapture } from './proc.js';

export interface PrivateBuild {
  /** The launcher: `node <launcher> diagnose ...`. */
  launcher: string;
  dir: string;
  ms: number;
  /** Type errors tsc reported (the JavaScript is emitted anyway). */
  typeErrors: number;
  /** The first few, for the results. */
  typeErrorSample: string[];
  /** The commit the tree is at, and the files that differ from it (what was actually measured). */
  commit: string;
  dirtyFiles: string[];
}

export async function privateBuild(dir: string): Promise<PrivateBuild> {
  const root = repoRoot();
  rmSync(dir, { recursive: true, force: true });
  const tsc = join(root, 'node_modules', 'typescript', 'bin', 'tsc');
  const r = await runCapture(
    process.execPath,
    [tsc, '-p', 'tsconfig.json', '--outDir', dir, '--sourceMap', 'false'],
    {
      cwd: root,
      timeoutMs: 600_000,
    },
  );
  const main = join(dir, 'src', 'cli', 'main.js');
  if (!existsSync(main))
    throw new Error(`private build in ${dir} failed (tsc exit ${r.code}): ${r.stdout.slice(-2000)}`);
  const launcher = join(dir, 'fabric-opsbot.js');
  writeFileSync(
    launcher,
    [
      '// Written by bench/lib/build.ts: bin/fabric-opsbot.js for this private build.',
      "import { main } from './src/cli/main.js';",
      'main(process.argv.slice(2)).then(',
      '  (code) => {',
      '    process.exitCode = code;',
      '  },',
      '  (err) => {',
      '    console.error(`fabric-opsbot: ${err instanceof Error ? err.message : String(err)}`);',
      '    process.exitCode = 3;',
      '  },',
      ');',
      '',
    ].join('\n'),
  );
  // Node treats .js as ESM only under a package.json with "type": "module".
  writeFileSync(join(dir, 'package.json'), '{ "type": "module" }\n');
  const errors = r.stdout.split('\n').filter((l) => /error TS\d+/.test(l));
  const git = async (...args: string[]) => (await runCapture('git', args, { cwd: root })).stdout.trimEnd();
  return {
    launcher,
    dir,
    ms: Math.round(r.ms),
    typeErrors: errors.length,
    typeErrorSample: errors.slice(0, 5),
    commit: await git('rev-parse', '--short', 'HEAD'),
    dirtyFiles: (await git('status', '--porcelain', '--', 'src', 'commands', 'workers'))
      .split('\n')
      .filter(Boolean)
      .map((l) => l.slice(3)),
  };
}
