/**
 * A real Docker Engine API for tests: podman's API service on a unix socket (scripts/podman-up.sh), torn down
 * by scripts/podman-down.sh (containers first, then the service, then leftover conmon processes).
 *
 * - `setup` / `teardown`: a vitest globalSetup-compatible pair; `setup` exports OPSBOT_DOCKER_SOCKET to the
 *   test workers (and `provide`s it as `dockerSocket` when vitest passes a project).
 * - `usePodman()`: for a test file. Reuses the engine of the global setup when there is one; otherwise starts
 *   one and `release()` stops it again (only if this call started it).
 * - `ensureBusyboxImage()`: the tiny local image (busybox-static rootfs, imported once, no registry).
 */
import { execFile, execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { socketClient, type DockerClient } from '../../src/docker/client.js';
import { importRootfs } from '../../src/docker/hostproc.js';
import { tarArchive, type TarEntry } from '../../src/docker/tar.js';

const run = promisify(execFile);

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const DEFAULT_BASE = join(REPO_ROOT, '.podman');
export const BUSYBOX_IMAGE = 'localhost/busybox-local:latest';
/** Environment variable through which the global setup hands the socket to the test workers. */
export const SOCKET_ENV = 'OPSBOT_DOCKER_SOCKET';

export interface PodmanHandle {
  base: string;
  socketPath: string;
  dockerHost: string;
  /** False when an engine of this BASE was already running (then it is not ours to stop). */
  startedHere: boolean;
  ms: number;
}

/** Start (or find running) podman's API service for BASE. Installs packages with apt on first use. */
export async function startPodman(base = DEFAULT_BASE): Promise<PodmanHandle> {
  const t0 = performance.now();
  const { stdout } = await run('bash', [join(REPO_ROOT, 'scripts', 'podman-up.sh'), base], {
    timeout: 600_000,
    maxBuffer: 4 * 1024 * 1024,
  });
  const m = /DOCKER_HOST=(unix:\/\/(\S+))/.exec(stdout);
  if (!m) throw new Error(`podman-up.sh printed no DOCKER_HOST: ${stdout.trim()}`);
  return {
    base,
    dockerHost: m[1]!,
    socketPath: m[2]!,
    startedHere: !/already running/.test(stdout),
    ms: Math.round(performance.now() - t0),
  };
}

/** Remove every container of BASE, stop its service, end its conmon processes, delete BASE. */
export async function stopPodman(base = DEFAULT_BASE): Promise<void> {
  await run('bash', [join(REPO_ROOT, 'scripts', 'podman-down.sh'), base], { timeout: 120_000 });
}

/** The environment the podman CLI needs to see the same engine as the API service of BASE. */
export function podmanEnv(base = DEFAULT_BASE): NodeJS.ProcessEnv {
  return {
    ...process.env,
    CONTAINERS_CONF: join(base, 'containers.conf'),
    CONTAINERS_STORAGE_CONF: join(base, 'storage.conf'),
  };
}

/** Import the busybox image through the API when the engine lacks it (podman-up.sh normally did). */
export async function ensureBusyboxImage(client: DockerClient): Promise<void> {
  try {
    await client.call('inspect image', (abortSignal) =>
      (client.docker.getImage(BUSYBOX_IMAGE) as unknown as { inspect(o: object): Promise<unknown> }).inspect({
        abortSignal,
      }),
    );
    return;
  } catch {
    // import below
  }
  const busybox = '/bin/busybox';
  if (!existsSync(busybox)) throw new Error('busybox-static is not installed (/bin/busybox missing)');
  const applets = execFileSync(busybox, ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const entries: TarEntry[] = [
    ...['bin', 'etc', 'tmp', 'proc', 'sys', 'dev', 'root', 'data'].map((d) => ({
      type: 'dir' as const,
      path: d,
    })),
    { type: 'file', path: 'bin/busybox', data: readFileSync(busybox), mode: 0o755 },
    ...applets
      .filter((a) => a !== 'busybox')
      .map((a) => ({ type: 'symlink' as const, path: `bin/${a}`, target: 'busybox' })),
    { type: 'file', path: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
    { type: 'file', path: 'etc/group', data: 'root:x:0:\n' },
  ];
  await importRootfs(client, tarArchive(entries), BUSYBOX_IMAGE);
}

/** vitest globalSetup: start the engine once for the whole run. */
export async function setup(project?: { provide?: (key: string, value: unknown) => void }): Promise<void> {
  const h = await startPodman();
  await ensureBusyboxImage(socketClient(h.socketPath, 30_000));
  process.env[SOCKET_ENV] = h.socketPath;
  process.env.OPSBOT_PODMAN_STARTED_HERE = h.startedHere ? '1' : '0';
  try {
    project?.provide?.('dockerSocket', h.socketPath);
  } catch {
    // an older vitest without provide(): the environment variable is enough
  }
}

/** vitest globalSetup: tear down what `setup` started. */
export async function teardown(): Promise<void> {
  if (process.env.OPSBOT_PODMAN_STARTED_HERE !== '0') await stopPodman();
}

/** For a test file: the engine of the global setup, or one of its own. */
export async function usePodman(): Promise<
  PodmanHandle & { client: DockerClient; release: () => Promise<void> }
> {
  const shared = process.env[SOCKET_ENV];
  if (shared) {
    const client = socketClient(shared, 30_000);
    if ((await client.ping()).ok) {
      await ensureBusyboxImage(client);
      return {
        base: dirname(shared),
        socketPath: shared,
        dockerHost: `unix://${shared}`,
        startedHere: false,
        ms: 0,
        client,
        release: async () => {},
      };
    }
  }
  const h = await startPodman();
  const client = socketClient(h.socketPath, 30_000);
  await ensureBusyboxImage(client);
  return {
    ...h,
    client,
    release: async () => {
      if (h.startedHere) await stopPodman(h.base);
    },
  };
}
