import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CHAIN_VERSION,
  ChainVerifier,
  GENESIS_HASH,
  GENESIS_ID,
  canonicalJson,
  compareIds,
  entryHash,
  type RawRecord,
} from '../../src/audit/chain.js';
import { REDACTED, scrubSecrets } from '../../src/audit/scrub.js';

function chain(n: number, start = 1000): RawRecord[] {
  const out: RawRecord[] = [];
  let prevId = GENESIS_ID;
  let prev = GENESIS_HASH;
  for (let i = 0; i < n; i++) {
    const id = `${start + i}-0`;
    const e = canonicalJson({ who: 'U1', what: 'command', n: i });
    const h = entryHash(CHAIN_VERSION, prevId, prev, e);
    out.push({ id, fields: { v: CHAIN_VERSION, prevId, prev, h, e } });
    prevId = id;
    prev = h;
  }
  return out;
}

function verify(
  recs: RawRecord[],
  last: { id: string; hash: string } | null,
  anchor = null as { id: string; hash: string } | null,
) {
  const v = new ChainVerifier(anchor);
  for (const r of recs) if (v.push(r)) return v.broken;
  return v.finish(last);
}

const headOf = (recs: RawRecord[]) => {
  const r = recs[recs.length - 1]!;
  return { id: r.id, hash: r.fields.h! };
};

describe('hash chain', () => {
  it('canonical JSON sorts keys at every level and drops undefined', () => {
    expect(canonicalJson({ b: 1, a: { d: [{ z: 1, y: 2 }], c: undefined } })).toBe(
      '{"a":{"d":[{"y":2,"z":1}]},"b":1}',
    );
  });

  it('compares stream ids numerically', () => {
    expect(compareIds('9-0', '10-0')).toBeLessThan(0);
    expect(compareIds('10-2', '10-10')).toBeLessThan(0);
    expect(compareIds('10-2', '10-2')).toBe(0);
    expect(compareIds('1700000000000-1', '1700000000000-0')).toBeGreaterThan(0);
  });

  it('an intact chain verifies', () => {
    const c = chain(50);
    expect(verify(c, headOf(c))).toBeNull();
  });

  it('finds an edited entry (content changed, hash not)', () => {
    const c = chain(10);
    c[4]!.fields.e = c[4]!.fields.e!.replace('"n":4', '"n":44');
    expect(verify(c, headOf(c))).toMatchObject({ reason: 'edited', id: '1004-0' });
  });

  it('finds an entry replaced with a recomputed hash (the next entry disagrees)', () => {
    const c = chain(10);
    const f = c[4]!.fields;
    f.e = f.e!.replace('"n":4', '"n":44');
    f.h = entryHash(CHAIN_VERSION, f.prevId!, f.prev!, f.e);
    expect(verify(c, headOf(c))).toMatchObject({ reason: 'edited', id: '1004-0', at: '1005-0' });
  });

  it('finds a deleted entry and names it', () => {
    const c = chain(10);
    c.splice(3, 1);
    expect(verify(c, headOf(c))).toMatchObject({ reason: 'missing', id: '1003-0', at: '1004-0' });
  });

  it('finds reordered entries', () => {
    const c = chain(10);
    const [x] = c.splice(2, 1);
    c.splice(5, 0, x!);
    expect(verify(c, headOf(c))).toMatchObject({ reason: 'missing', id: '1002-0' });
  });

  it('finds deleted newest entries against the recorded head', () => {
    const c = chain(10);
    const head = headOf(c);
    c.pop();
    expect(verify(c, head)).toMatchObject({ reason: 'truncated', id: '1009-0' });
  });

  it('finds an entry copied in again at the end', () => {
    const c = chain(10);
    const head = headOf(c);
    c.push({ id: '2000-0', fields: { ...c[2]!.fields } });
    expect(verify(c, head)).toMatchObject({ reason: 'inserted', id: '2000-0', at: '2000-0' });
  });

  it('starts from an anchor after trimming', () => {
    const c = chain(10);
    const anchor = { id: c[3]!.id, hash: c[3]!.fields.h! };
    expect(verify(c.slice(4), headOf(c), anchor)).toBeNull();
    expect(verify(c.slice(5), headOf(c), anchor)).toMatchObject({ reason: 'missing', id: '1004-0' });
  });

  it('property: deleting any one entry is always found, with its id', () => {
    fc.assert(
      fc.property(fc.integer({ min: 2, max: 40 }), fc.nat(), (n, k) => {
        const c = chain(n);
        const head = headOf(c);
        const i = k % n;
        const [gone] = c.splice(i, 1);
        const b = verify(c, head);
        expect(b).not.toBeNull();
        expect(b!.id).toBe(gone!.id);
      }),
    );
  });

  it('property: changing any byte of any entry is found', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 30 }), fc.nat(), fc.nat(), (n, k, pos) => {
        const c = chain(n);
        const head = headOf(c);
        const f = c[k % n]!.fields;
        const e = f.e!;
        const p = pos % e.length;
        f.e = e.slice(0, p) + (e[p] === 'x' ? 'y' : 'x') + e.slice(p + 1);
        expect(verify(c, head)).toMatchObject({ reason: 'edited', id: c[k % n]!.id });
      }),
    );
  });
});

describe('scrubbing', () => {
  it('redacts secret keys and secret-looking strings, keeps env variable names', () => {
    const s = scrubSecrets({
      token: 'xoxb-123-abc',
      nested: { password: 'hunter2', apiKey: 'k', passwordEnv: 'REDIS_PASSWORD', ok: 'fine' },
      text: 'used xoxb-1234-5678-abcdef and redis://user:hunter2@host:6379',
      list: [{ secret: 's' }],
      when: new Date(0),
      big: 10n,
      fn: () => 1,
    });
    expect(s).toEqual({
      token: REDACTED,
      nested: { password: REDACTED, apiKey: REDACTED, passwordEnv: 'REDIS_PASSWORD', ok: 'fine' },
      text: `used xox?-${REDACTED} and redis://user:${REDACTED}@host:6379`,
      list: [{ secret: REDACTED }],
      when: '1970-01-01T00:00:00.000Z',
      big: '10',
    });
    expect(JSON.stringify(s)).not.toMatch(/hunter2|xoxb-1234/);
  });
});
