import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { nextCursor } from '../../src/docker/gather.js';
import { demuxDockerStream, parseLogLines, splitTimestamp } from '../../src/docker/stream.js';
import { tarArchive } from '../../src/docker/tar.js';

function frame(type: 1 | 2, text: string): Buffer {
  const payload = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = type;
  h.writeUInt32BE(payload.length, 4);
  return Buffer.concat([h, payload]);
}

describe('demuxDockerStream', () => {
  it('splits stdout and stderr frames in order', () => {
    const buf = Buffer.concat([frame(1, 'out one\n'), frame(2, 'err one\n'), frame(1, 'out two\n')]);
    const chunks = demuxDockerStream(buf);
    expect(chunks.map((c) => [c.stream, c.data.toString()])).toEqual([
      ['stdout', 'out one\n'],
      ['stderr', 'err one\n'],
      ['stdout', 'out two\n'],
    ]);
  });

  it('treats a buffer without frame headers as raw TTY output', () => {
    const chunks = demuxDockerStream(Buffer.from('2026-11-21T05:23:28Z hello\r\n'));
    expect(chunks).toHaveLength(1);
    expect(chunks[0]!.stream).toBe('stdout');
  });

  it('keeps a truncated last frame', () => {
    const whole = frame(1, 'complete line\n');
    const cut = frame(1, 'partial line that was cut\n').subarray(0, 15);
    const chunks = demuxDockerStream(Buffer.concat([whole, cut]));
    expect(chunks.map((c) => c.data.toString())).toEqual(['complete line\n', 'partial']);
  });

  it('returns nothing for an empty buffer', () => {
    expect(demuxDockerStream(Buffer.alloc(0))).toEqual([]);
  });
});

describe('parseLogLines', () => {
  it('parses podman whole-second and Docker nanosecond timestamps', () => {
    expect(splitTimestamp('2026-11-21T05:23:28Z hello world')).toEqual({
      atMs: Date.parse('2026-11-21T05:23:28Z'),
      wholeSecond: true,
      text: 'hello world',
    });
    const d = splitTimestamp('2026-11-21T05:23:28.123456789Z x');
    expect(d.atMs).toBe(Date.parse('2026-11-21T05:23:28.123Z'));
    expect(d.wholeSecond).toBe(false);
    expect(splitTimestamp('2026-11-21T05:23:28.5+02:00 y').atMs).toBe(Date.parse('2026-11-21T03:23:28.500Z'));
    expect(splitTimestamp('no time here')).toEqual({ text: 'no time here' });
  });

  it('joins a line split across frames and keeps streams apart', () => {
    const chunks = demuxDockerStream(
      Buffer.concat([
        frame(1, '2026-11-21T05:23:28Z first half'),
        frame(2, '2026-11-21T05:23:28Z an error\n'),
        frame(1, ' and second half\n2026-11-21T05:23:29Z next\n'),
      ]),
    );
    const lines = parseLogLines(chunks);
    expect(lines.map((l) => [l.stream, l.text, l.at])).toEqual([
      ['stderr', 'an error', '2026-11-21T05:23:28.000Z'],
      ['stdout', 'first half and second half', '2026-11-21T05:23:28.000Z'],
      ['stdout', 'next', '2026-11-21T05:23:29.000Z'],
    ]);
  });

  it('strips the carriage return of TTY lines', () => {
    const lines = parseLogLines([
      { stream: 'stdout', data: Buffer.from('2026-11-21T05:23:28Z tty line\r\n') },
    ]);
    expect(lines[0]!.text).toBe('tty line');
  });
});

describe('nextCursor', () => {
  const s = Date.parse('2026-11-21T05:00:00Z');
  const line = (iso: string, wholeSecond = true) => ({
    at: iso,
    atMs: Date.parse(iso),
    ...(wholeSecond ? { wholeSecond } : {}),
    text: 'x',
    stream: 'stdout' as const,
  });
  it('keeps since when there were no lines', () => {
    expect(nextCursor([], s, s + 60_000)).toBe(s);
  });
  it('re-reads the newest whole second while it may still grow', () => {
    const l = line('2026-11-21T05:00:10Z');
    expect(nextCursor([l], s, l.atMs + 500)).toBe(l.atMs);
  });
  it('moves past a whole second that is safely over', () => {
    const l = line('2026-11-21T05:00:10Z');
    expect(nextCursor([l], s, l.atMs + 5000)).toBe(l.atMs + 1000);
  });
  it('moves just past a precise timestamp', () => {
    const l = line('2026-11-21T05:00:10.250Z', false);
    expect(nextCursor([l], s, l.atMs + 10)).toBe(l.atMs + 1);
  });
});

describe('tarArchive', () => {
  it('writes an archive that tar lists and extracts', () => {
    const dir = mkdtempSync(join(tmpdir(), 'opsbot-tar-'));
    try {
      const long = `${'d'.repeat(60)}/${'e'.repeat(60)}/file.txt`;
      const buf = tarArchive([
        { type: 'dir', path: 'etc' },
        { type: 'file', path: 'etc/passwd', data: 'root:x:0:0:root:/root:/bin/sh\n' },
        { type: 'symlink', path: 'bin', target: 'usr/bin' },
        { type: 'dir', path: 'tmp', mode: 0o1777 },
        { type: 'file', path: long, data: Buffer.alloc(1000, 65), mode: 0o755 },
      ]);
      expect(buf.length % 512).toBe(0);
      writeFileSync(join(dir, 'a.tar'), buf);
      const listing = execFileSync('tar', ['-tvf', join(dir, 'a.tar')], { encoding: 'utf8' });
      expect(listing).toMatch(/etc\/passwd/);
      expect(listing).toMatch(/bin -> usr\/bin/);
      expect(listing).toMatch(/drwxrwxrwt .* tmp\//);
      execFileSync('tar', ['-xf', join(dir, 'a.tar'), '-C', dir]);
      expect(readFileSync(join(dir, 'etc/passwd'), 'utf8')).toContain('root:x:0:0');
      expect(readFileSync(join(dir, long)).length).toBe(1000);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
