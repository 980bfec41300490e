/**
 * Run one of this HOST's programs (a Kafka broker's or ZooKeeper's java, a node or bash script) as a real
 * container, so that it can be inspected, restarted, killed and read through the Docker API like a production
 * container. The image is a near-empty root filesystem imported once (no registry needed); the host's /usr
 * (and /lib, /lib64... where they are real directories; symlinks to usr/ are recreated in the image),
 * /etc/alternatives, /etc/java-* and /etc/ssl are bind-mounted read-only, plus a writable data directory.
 * Network mode host: the process listens on the host's addresses, as a lab broker must.
 *
 * This only makes sense when the Docker engine runs on this host (the lab's podman).
 */
import { existsSync, lstatSync, readdirSync, readlinkSync } from 'node:fs';
import type { Readable } from 'node:stream';
import { NotFoundError, SourceError } from '../errors/index.js';
import type { DockerClient } from './client.js';
import { tarArchive, type TarEntry } from './tar.js';

export const HOSTPROC_IMAGE = 'localhost/opsbot-hostproc:latest';
/** Every container made here carries this label (value "true"). */
export const HOSTPROC_LABEL = 'fabric-opsbot.hostproc';

const TOP_LEVEL_LINKABLE = ['bin', 'sbin', 'lib', 'lib32', 'lib64', 'libx32'];

interface HostLayout {
  /** Top-level dirs that are symlinks on the host (merged /usr): recreated as symlinks in the image. */
  symlinks: { path: string; target: string }[];
  /** Host paths to bind read-only at the same place. */
  readOnly: string[];
}

/** What of the host's filesystem a host program needs, read from this host. */
export function hostLayout(root = '/'): HostLayout {
  const at = (p: string) => (root === '/' ? `/${p}` : `${root.replace(/\/$/, '')}/${p}`);
  const symlinks: HostLayout['symlinks'] = [];
  const readOnly = ['/usr'];
  for (const name of TOP_LEVEL_LINKABLE) {
    let st;
    try {
      st = lstatSync(at(name));
    } catch {
      continue;
    }
    if (st.isSymbolicLink()) symlinks.push({ path: name, target: readlinkSync(at(name)) });
    else if (st.isDirectory()) readOnly.push(`/${name}`);
  }
  if (existsSync(at('etc/alternatives'))) readOnly.push('/etc/alternatives');
  let etc: string[] = [];
  try {
    etc = readdirSync(at('etc'));
  } catch {
    // no /etc: nothing more to share
  }
  for (const e of etc.sort()) if (/^java-/.test(e)) readOnly.push(`/etc/${e}`);
  if (existsSync(at('etc/ssl'))) readOnly.push('/etc/ssl');
  return { symlinks, readOnly };
}

/** The root filesystem of the host-process image: mount points, symlinks like the host's, a passwd file. */
export function hostImageEntries(layout: HostLayout = hostLayout()): TarEntry[] {
  const entries: TarEntry[] = [
    { type: 'dir', path: 'etc' },
    { type: 'dir', path: 'usr' },
    { type: 'dir', path: 'tmp', mode: 0o1777 },
    { type: 'dir', path: 'var' },
    { type: 'dir', path: 'var/tmp', mode: 0o1777 },
    { type: 'dir', path: 'run' },
    { type: 'dir', path: 'root', mode: 0o700 },
    { type: 'dir', path: 'proc' },
    { type: 'dir', path: 'sys' },
    { type: 'dir', path: 'dev' },
    { type: 'dir', path: 'data' },
    {
      type: 'file',
      path: 'etc/passwd',
      data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n',
    },
    { type: 'file', path: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\n' },
  ];
  for (const p of layout.readOnly) {
    // Mount points for binds below /etc and at the top level.
    const rel = p.replace(/^\//, '');
    if (rel !== 'usr' && !entries.some((e) => e.path === rel)) entries.push({ type: 'dir', path: rel });
  }
  for (const s of layout.symlinks) entries.push({ type: 'symlink', path: s.path, target: s.target });
  return entries;
}

async function imageExists(client: DockerClient, image: string): Promise<boolean> {
  try {
    await client.call(`inspect image ${image}`, (abortSignal) =>
      (client.docker.getImage(image) as unknown as { inspect(o: object): Promise<unknown> }).inspect({
        abortSignal,
      }),
    );
    return true;
  } catch (err) {
    if (err instanceof NotFoundError) return false;
    throw err;
  }
}

function drain(stream: Readable): Promise<string> {
  return new Promise((resolve, reject) => {
    const parts: Buffer[] = [];
    stream.on('data', (b: Buffer) => parts.push(Buffer.from(b)));
    stream.once('end', () => resolve(Buffer.concat(parts).toString('utf8')));
    stream.once('error', reject);
  });
}

/**
 * Import a root filesystem (a tar archive) as an image through the API (POST /images/create?fromSrc=-),
 * waiting for the engine to finish. Throws SourceError when the engine reports an error.
 */
export async function importRootfs(client: DockerClient, archive: Buffer, image: string): Promise<void> {
  const colon = image.lastIndexOf(':');
  const [repo, tag] =
    colon > image.lastIndexOf('/') ? [image.slice(0, colon), image.slice(colon + 1)] : [image, 'latest'];
  const out = await client.call(
    `import image ${image}`,
    async (abortSignal) => {
      const importImage = client.docker.importImage.bind(client.docker) as unknown as (
        file: Buffer,
        opts: Record<string, unknown>,
      ) => Promise<Readable>;
      return drain(await importImage(archive, { repo, tag, abortSignal }));
    },
    client.timeoutMs + 60_000,
  );
  const err = /"error"\s*:\s*"([^"]*)"/.exec(out);
  if (err) throw new SourceError('docker', `${client.label}: import image ${image}: ${err[1]}`);
}

/** Make sure the host-process image exists on the engine; import it once. */
export async function ensureHostImage(
  client: DockerClient,
  image = HOSTPROC_IMAGE,
): Promise<{ image: string; created: boolean }> {
  if (await imageExists(client, image)) return { image, created: false };
  await importRootfs(client, tarArchive(hostImageEntries()), image);
  return { image, created: true };
}

export interface HostProcessSpec {
  /** Container name. */
  name: string;
  /** The host program and its arguments, with an absolute path: ['/usr/bin/java', '-cp', ...]. */
  command: string[];
  /** A host directory, mounted read-write at the same path (or at `dataMount`). */
  dataDir: string;
  dataMount?: string;
  /** Default: the data mount. */
  workingDir?: string;
  env?: Record<string, string>;
  labels?: Record<string, string>;
  /** More host paths mounted read-only at the same place (e.g. the Kafka distribution's folder). */
  readOnly?: string[];
  /** Raw binds "host:container[:options]". */
  binds?: string[];
  /** Default unless-stopped: a crash (kill -9 of its PID) is restarted by the engine and counted. */
  restartPolicy?: 'no' | 'always' | 'unless-stopped' | 'on-failure';
  /** Seconds between SIGTERM and SIGKILL on stop (default 10). */
  stopTimeoutSeconds?: number;
  image?: string;
  /** Remove a container of the same name first (default false: creating it then fails). */
  replace?: boolean;
  /** Start it (default true). */
  start?: boolean;
}

export interface HostProcess {
  id: string;
  name: string;
  image: string;
  binds: string[];
}

/** The binds of a spec: the host's read-only system paths, the extra read-only ones, the data dir, raw binds. */
export function hostProcessBinds(spec: HostProcessSpec, layout: HostLayout = hostLayout()): string[] {
  const ro = [...layout.readOnly, ...(spec.readOnly ?? [])];
  const binds = [...new Set(ro)].map((p) => `${p}:${p}:ro`);
  binds.push(`${spec.dataDir}:${spec.dataMount ?? spec.dataDir}:rw`);
  binds.push(...(spec.binds ?? []));
  return binds;
}

/**
 * Create (and start) a container running a host program. Throws SourceError (engine) or NotFoundError (image
 * missing: call ensureHostImage first, or let `image` default and it is imported here).
 */
export async function runHostProcess(client: DockerClient, spec: HostProcessSpec): Promise<HostProcess> {
  if (!spec.command[0]?.startsWith('/')) {
    throw new TypeError(
      `runHostProcess: the command must start with an absolute path (got ${spec.command[0]})`,
    );
  }
  const image = spec.image ?? (await ensureHostImage(client)).image;
  if (spec.replace) {
    try {
      await client.call(`remove ${spec.name}`, (abortSignal) =>
        client.docker.getContainer(spec.name).remove({ force: true, v: true, abortSignal }),
      );
    } catch (err) {
      if (!(err instanceof NotFoundError)) throw err;
    }
  }
  const binds = hostProcessBinds(spec);
  const env = {
    PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    HOME: '/root',
    LANG: 'C.UTF-8',
    ...(spec.env ?? {}),
  };
  const created = await client.call(`create ${spec.name}`, (abortSignal) =>
    client.docker.createContainer({
      name: spec.name,
      Image: image,
      Entrypoint: [spec.command[0]!],
      Cmd: spec.command.slice(1),
      Env: Object.entries(env).map(([k, v]) => `${k}=${v}`),
      WorkingDir: spec.workingDir ?? spec.dataMount ?? spec.dataDir,
      Labels: { [HOSTPROC_LABEL]: 'true', ...(spec.labels ?? {}) },
      StopTimeout: spec.stopTimeoutSeconds ?? 10,
      HostConfig: {
        NetworkMode: 'host',
        Binds: binds,
        RestartPolicy: { Name: spec.restartPolicy ?? 'unless-stopped' },
      },
      abortSignal,
    } as never),
  );
  if (spec.start !== false) {
    await client.call(`start ${spec.name}`, (abortSignal) => created.start({ abortSignal }));
  }
  return { id: created.id, name: spec.name, image, binds };
}
