/**
 * Fabric's `orderer`, `configtxgen` and `cryptogen`, built from the Go module proxy by scripts/build-fabric.sh
 * into `<cacheDir>/fabric-<version>/bin/` (a folder counts once `.complete` is in it).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot, type ResolvedLabOptions } from '../options.js';

type FabricOpts = Pick<ResolvedLabOptions, 'cacheDir' | 'fabricVersion'>;

export const FABRIC_COMMANDS = ['orderer', 'configtxgen', 'cryptogen'] as const;

/** `<cacheDir>/fabric-<version>/bin` (whether or not it is filled yet). */
export function fabricBinDir(o: FabricOpts): string {
  return join(o.cacheDir, `fabric-${o.fabricVersion}`, 'bin');
}

/** True when the three binaries of `o.fabricVersion` are built. */
export function fabricCached(o: FabricOpts): boolean {
  const dir = fabricBinDir(o);
  return existsSync(join(dir, '.complete')) && FABRIC_COMMANDS.every((c) => existsSync(join(dir, c)));
}

/** Why the binaries cannot be built here (no `go` on PATH), or null when they can. */
export function fabricUnbuildableReason(): string | null {
  try {
    execFileSync('go', ['version'], { stdio: 'ignore', timeout: 10_000 });
    return null;
  } catch {
    return 'Go is not installed (scripts/build-fabric.sh builds the orderer with the machine`s Go)';
  }
}

/**
 * Makes sure the binaries are built (scripts/build-fabric.sh, ~100 s the first time on 2 cores, a few ms
 * when cached) and returns their folder.
 */
export async function ensureFabric(o: FabricOpts, timeoutMs = 20 * 60_000): Promise<string> {
  const dir = fabricBinDir(o);
  if (fabricCached(o)) return dir;
  const script = join(repoRoot(), 'scripts', 'build-fabric.sh');
  await new Promise<void>((resolve, reject) => {
    execFile(
      'bash',
      [script, o.fabricVersion],
      {
        env: { ...process.env, FABRIC_OPSBOT_LAB_CACHE: o.cacheDir },
        timeout: timeoutMs,
        maxBuffer: 64 * 1024 * 1024,
      },
      (err, _stdout, stderr) => {
        if (err) {
          const last = stderr.trim().split('\n').slice(-15).join('\n');
          reject(new Error(`building Fabric ${o.fabricVersion} failed: ${last || err.message}`));
        } else resolve();
      },
    );
  });
  if (!fabricCached(o)) throw new Error(`build-fabric.sh finished but ${dir} is not complete`);
  return dir;
}
