/** How the app picks Socket Mode or HTTP, and what it says when a secret is missing. */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../src/errors/index.js';
import { createSlackBot, resolveSlackMode, slackCredentials } from '../../src/slack/app.js';
import { testInventory } from './fixtures.js';

const producer = { enqueue: async () => ({ jobId: 'x', queue: 'commands' as const, duplicate: false }) };

describe('Socket Mode or HTTP', () => {
  it('defaults to Socket Mode; slack.mode and then the caller override it', () => {
    const inv = testInventory();
    expect(resolveSlackMode({})).toBe('socket');
    expect(resolveSlackMode({ slack: { ...inv.slack!, mode: 'socket' } })).toBe('socket');
    expect(resolveSlackMode(inv)).toBe('http'); // the test inventory says http
    expect(resolveSlackMode(inv, 'socket')).toBe('socket');
  });

  it('names the missing variables for each mode', () => {
    const inv = testInventory();
    expect(() => slackCredentials(inv, {}, 'socket')).toThrow(ConfigError);
    expect(() => slackCredentials(inv, { SLACK_BOT_TOKEN: 'xoxb' }, 'socket')).toThrow(
      /SLACK_APP_TOKEN \(an app-level token/,
    );
    expect(() => slackCredentials(inv, { SLACK_BOT_TOKEN: 'xoxb' }, 'http')).toThrow(/SLACK_SIGNING_SECRET/);
    expect(() => slackCredentials(inv, { SLACK_APP_TOKEN: 'xapp' }, 'socket')).toThrow(/SLACK_BOT_TOKEN/);
    expect(slackCredentials(inv, { SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp' }, 'socket')).toEqual({
      botToken: 'xoxb',
      appToken: 'xapp',
    });
    const renamed = {
      ...inv,
      slack: { ...inv.slack!, botTokenEnv: 'MY_BOT', signingSecretEnv: 'MY_SECRET' },
    };
    expect(() => slackCredentials(renamed, { SLACK_BOT_TOKEN: 'xoxb' }, 'http')).toThrow(
      /MY_BOT .* and MY_SECRET/,
    );
  });

  it('builds a Socket Mode app without touching the network until start()', () => {
    const bot = createSlackBot({
      inventory: testInventory(),
      env: { SLACK_BOT_TOKEN: 'xoxb', SLACK_APP_TOKEN: 'xapp' },
      producer,
      mode: 'socket',
    });
    expect(bot.mode).toBe('socket');
  });
});
