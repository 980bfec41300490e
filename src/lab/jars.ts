/**
 * The jar cache: `<cacheDir>/jars/kafka-<version>/` holds the official Kafka jars of one release, fetched from
 * Maven Central by scripts/fetch-kafka.sh (Maven + lab/pom.xml). A folder counts once `.complete` exists; it is
 * refetched when lab/pom.xml changed (its sha256 is in `.complete`), unless running processes use it.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { defaultScalaVersion, repoRoot, type ResolvedLabOptions } from './options.js';

/** The cache folder for a release (whether or not it is filled yet). */
export function jarsDir(o: Pick<ResolvedLabOptions, 'cacheDir' | 'kafkaVersion' | 'scalaVersion'>): string {
  const name =
    o.scalaVersion === defaultScalaVersion(o.kafkaVersion)
      ? `kafka-${o.kafkaVersion}`
      : `kafka-${o.kafkaVersion}-scala${o.scalaVersion}`;
  return join(o.cacheDir, 'jars', name);
}

/** sha256 of lab/pom.xml: a cache folder is up to date when it was fetched with this pom. */
export function pomSha(): string {
  return createHash('sha256')
    .update(readFileSync(join(repoRoot(), 'lab', 'pom.xml')))
    .digest('hex');
}

/** True when the cache folder is complete and was fetched with the current lab/pom.xml. */
export function jarsCached(
  o: Pick<ResolvedLabOptions, 'cacheDir' | 'kafkaVersion' | 'scalaVersion'>,
): boolean {
  const marker = join(jarsDir(o), '.complete');
  return existsSync(marker) && readFileSync(marker, 'utf8').split('\n').includes(`pom=${pomSha()}`);
}

/**
 * Makes sure the jars of `o.kafkaVersion` are in the cache, fetching them with Maven when they are not.
 * Returns the folder. Concurrent calls are safe (the script fills a temporary folder and renames it).
 */
export async function ensureJars(
  o: Pick<ResolvedLabOptions, 'cacheDir' | 'kafkaVersion' | 'scalaVersion'>,
  timeoutMs = 15 * 60_000,
): Promise<string> {
  const dir = jarsDir(o);
  if (jarsCached(o)) return dir;
  // Not there, or from an older pom: the script fetches (or keeps a folder that running processes use).
  const script = join(repoRoot(), 'scripts', 'fetch-kafka.sh');
  await new Promise<void>((resolve, reject) => {
    execFile(
      'bash',
      [script, o.kafkaVersion, o.scalaVersion],
      {
        env: { ...process.env, FABRIC_OPSBOT_LAB_CACHE: o.cacheDir },
        timeout: timeoutMs,
        maxBuffer: 16 * 1024 * 1024,
      },
      (err, _stdout, stderr) => {
        if (err)
          reject(new Error(`fetching Kafka ${o.kafkaVersion} jars failed: ${stderr.trim() || err.message}`));
        else resolve();
      },
    );
  });
  if (!existsSync(join(dir, '.complete')))
    throw new Error(`fetch-kafka.sh finished but ${dir} is not complete`);
  return dir;
}
