import { describe, expect, it } from 'vitest';
import { parseFabricText, suggest, tokenize } from '../../src/slack/parse.js';

describe('parseFabricText', () => {
  it.each([
    ['', { sub: 'help' }],
    ['help', { sub: 'help' }],
    ['status pubchain', { sub: 'status', channel: 'pubchain' }],
    ['STATUS #pubchain', { sub: 'status', channel: 'pubchain' }],
    ['diagnose', { sub: 'diagnose' }],
    ['brokers', { sub: 'brokers' }],
    ['whatif stop-broker 3', { sub: 'whatif', action: 'stop-broker', brokerId: 3 }],
    ['audit', { sub: 'audit', n: 10 }],
    ['audit 25', { sub: 'audit', n: 25 }],
    ['repair pad-channel pubchain', { sub: 'repair', kind: 'pad-channel', args: { channel: 'pubchain' } }],
    [
      'repair pad-channel channel=pubchain',
      { sub: 'repair', kind: 'pad-channel', args: { channel: 'pubchain' } },
    ],
    [
      'repair set-topic-config pubchain retention.ms -1',
      {
        sub: 'repair',
        kind: 'set-topic-config',
        args: { topic: 'pubchain', key: 'retention.ms', value: -1 },
      },
    ],
    [
      'repair preferred-leader-election topic=t partition=0',
      { sub: 'repair', kind: 'preferred-leader-election', args: { topic: 't', partition: 0 } },
    ],
  ])('%j', (text, command) => {
    const r = parseFabricText(text);
    expect(r).toEqual({ ok: true, command });
  });

  it('takes --cluster anywhere, in both spellings, and the em dash Slack clients type for --', () => {
    for (const text of [
      '--cluster prod status c',
      'status --cluster prod c',
      'status c --cluster=prod',
      'status c —cluster prod',
      'status c -c prod',
    ]) {
      expect(parseFabricText(text)).toEqual({
        ok: true,
        command: { sub: 'status', channel: 'c' },
        cluster: 'prod',
      });
    }
  });

  it.each([
    ['stauts pubchain', /unknown subcommand `stauts` \(did you mean `status`\?\)/],
    ['frobnicate', /unknown subcommand `frobnicate`\. Try `\/fabric help`/],
    ['status', /which channel/],
    ['status a b', /too many arguments for status: `b`/],
    ['diagnose now', /too many arguments for diagnose/],
    ['whatif', /what if what/],
    ['whatif stop-brokr 1', /did you mean `stop-broker`/],
    ['whatif stop-broker', /which broker/],
    ['whatif stop-broker -1', /broker id must be a whole number/],
    ['repair', /which repair\?.*pad-channel/],
    ['repair Pad_Channel', /is not a repair kind/],
    ['repair pad-channel a b', /unexpected argument `b` for pad-channel/],
    ['repair unknown-kind x', /unexpected argument `x` for unknown-kind: use key=value/],
    ['audit 0', /from 1 to 50/],
    ['status c --cluster', /`--cluster` needs a cluster name/],
    ['status c --force', /unknown option `--force`/],
  ])('%j is refused helpfully', (text, pattern) => {
    const r = parseFabricText(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.error).toMatch(pattern);
  });

  it('tokenizes quotes and smart quotes', () => {
    expect(tokenize('repair x "a b" \u201cc d\u201d')).toEqual(['repair', 'x', 'a b', 'c d']);
  });

  it('suggests only close words', () => {
    expect(suggest('brokres', ['brokers', 'status'])).toBe('brokers');
    expect(suggest('zzzz', ['brokers', 'status'])).toBeUndefined();
  });
});
