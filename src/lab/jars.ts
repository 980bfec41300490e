/**
 * The jar cache: `<cacheDir>/jars/kafka-<version>/` holds the official Kafka jars of one release, fetched from
 * Maven Central by scripts/fetch-kafka.sh (Maven + lab/pom.xml). A folder counts only once `.complete` exists.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
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

export function jarsCached(
  o: Pick<ResolvedLabOptions, 'cacheDir' | 'kafkaVersion' | 'scalaVersion'>,
): boolean {
  return existsSync(join(jarsDir(o), '.complete'));
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
  if (!jarsCached(o)) throw new Error(`fetch-kafka.sh finished but ${dir} is not complete`);
  return dir;
}
