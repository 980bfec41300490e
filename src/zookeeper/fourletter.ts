/**
 * ZooKeeper's four-letter words (`srvr`): each ensemble member's mode, zxid and latency. Servers answer only
 * words on their whitelist (3.5+: `4lw.commands.whitelist`; only `srvr` by default in 3.8).
 */
import { connect } from 'node:net';
import type { ZkMemberStatus } from '../model/index.js';

export function fourLetterWord(address: string, word: string, timeoutMs: number): Promise<string> {
  const i = address.lastIndexOf(':');
  const host = address.slice(0, i);
  const port = Number(address.slice(i + 1));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const socket = connect({ host, port });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`no answer to "${word}" within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('connect', () => socket.end(word));
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      reject(new Error(err.code ?? err.message));
    });
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('utf8'));
    });
  });
}

/** Parse a `srvr` answer. */
export function parseSrvr(address: string, text: string): ZkMemberStatus {
  if (/not in the whitelist|not executed/i.test(text)) {
    return { address, ok: true, mode: 'unknown', error: '4lw "srvr" not whitelisted on this server' };
  }
  if (/not currently serving requests/i.test(text)) {
    return { address, ok: false, error: 'up but not serving requests (no quorum?)' };
  }
  const field = (name: string) => new RegExp(`^${name}:\\s*(.*)$`, 'm').exec(text)?.[1]?.trim();
  const mode = field('Mode');
  const latency = field('Latency min/avg/max')?.split('/').map(Number);
  const status: ZkMemberStatus = { address, ok: mode !== undefined };
  if (mode) {
    status.mode =
      (['leader', 'follower', 'standalone', 'observer'] as const).find((m) => m === mode) ?? 'unknown';
  }
  const zxid = field('Zxid');
  if (zxid) status.zxid = zxid;
  const version = field('Zookeeper version');
  if (version) status.version = version.split(',')[0]!;
  if (latency && latency.length === 3 && latency.every((n) => Number.isFinite(n))) {
    status.latency = { min: latency[0]!, avg: latency[1]!, max: latency[2]! };
  }
  if (!status.ok) status.error = `unexpected answer to "srvr": ${text.slice(0, 80).trim() || '(empty)'}`;
  return status;
}

export async function probeMember(address: string, timeoutMs: number): Promise<ZkMemberStatus> {
  try {
    return parseSrvr(address, await fourLetterWord(address, 'srvr', timeoutMs));
  } catch (err) {
    return { address, ok: false, error: (err as Error).message };
  }
}
