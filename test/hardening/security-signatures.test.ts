/**
 * Issue #9, security: every request to the HTTP receiver (slash commands and button presses alike) must be
 * signed by Slack with the signing secret, within five minutes of this machine's clock either way. Each refusal
 * is a 401, queues nothing, writes nothing to Redis (no audit entry, no approval state), posts nothing to Slack,
 * and logs at most a line that holds neither the secret nor the signature.
 *
 * The bot, a real Redis and the Web API recorder, as in test/slack/bot.test.ts; the approval store and audit log
 * wired as commands/bot.ts does (harness `repairs`).
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { captureLogs, type LogCapture } from '../../src/log.js';
import { QUEUES, type QueueName } from '../../src/queue/index.js';
import { slackRequestProblem } from '../../src/slack/app.js';
import { ACTIONS } from '../../src/slack/blocks.js';
import { buttonPayload, signedHeaders, slackSignature, slashCommandBody } from '../helpers/slack.js';
import { USERS } from '../slack/fixtures.js';
import { SIGNING_SECRET, startHarness, type Harness } from '../slack/harness.js';

let h: Harness;
let logs: LogCapture;

beforeAll(async () => {
  h = await startHarness({ repairs: {} });
});
afterAll(async () => {
  await h?.close();
});
beforeEach(async () => {
  await h.redis.flush();
  h.recorder.clear();
  logs = captureLogs();
});
afterEach(() => logs.stop());

const now = () => Math.floor(Date.now() / 1000);

async function post(body: string, headers: Record<string, string>): Promise<number> {
  const res = await fetch(h.eventsUrl, { method: 'POST', headers, body });
  await res.text();
  return res.status;
}

/** Everything a request could have changed: every key of Redis (queues, audit, approvals) and Slack calls. */
async function footprint(): Promise<{ keys: string[]; jobs: number; calls: number }> {
  const keys = (await h.redis.client().keys('*')).sort();
  let jobs = 0;
  for (const q of Object.values(QUEUES) as QueueName[]) jobs += await h.jobCount(q);
  return { keys, jobs, calls: h.recorder.calls.length };
}

/** A refused request changed nothing, and its log lines hold neither the secret nor the signature. */
async function expectRefused(request: Promise<number>, signature?: string): Promise<void> {
  const from = logs.lines.length;
  expect(await request).toBe(401);
  await new Promise((r) => setTimeout(r, 150)); // anything dispatched would have acted by now
  expect(await footprint()).toEqual({ keys: [], jobs: 0, calls: 0 });
  const lines = logs.lines.slice(from);
  expect(lines.join('')).not.toContain(SIGNING_SECRET);
  if (signature) expect(lines.join('')).not.toContain(signature.slice(3));
  expect(lines.length).toBeLessThanOrEqual(1); // ours, or Bolt's own "failed to verify"
}

const commandBody = (over: Partial<Parameters<typeof slashCommandBody>[0]> = {}) =>
  slashCommandBody({ text: 'diagnose', user_id: USERS.approver, ...over });

const buttonBody = (over: Partial<Parameters<typeof buttonPayload>[0]> = {}) =>
  new URLSearchParams({
    payload: JSON.stringify(
      buttonPayload({
        user_id: USERS.operator,
        action_id: ACTIONS.repairRequest,
        value: JSON.stringify({ cluster: 'lab', kind: 'pad-channel', args: { channel: 'pubchain' } }),
        response_url: h.recorder.responseUrl(),
        ...over,
      }),
    ),
  }).toString();

/** Both endpoints Slack posts to: a slash command and a button press (same URL, other payloads). */
const KINDS = [
  { kind: 'command', body: () => commandBody(), queue: QUEUES.commands },
  { kind: 'button', body: () => buttonBody(), queue: QUEUES.commands },
] as const;

describe.each(KINDS)('$kind: signature and replay window', ({ body: makeBody, queue }) => {
  it('accepts a correctly signed request (the baseline the refusals below differ from)', async () => {
    const body = makeBody();
    expect(await post(body, signedHeaders(SIGNING_SECRET, body))).toBe(200);
    await expect.poll(() => h.jobCount(queue)).toBe(1);
  });

  it('refuses a signature made with another secret', async () => {
    const body = makeBody();
    const headers = signedHeaders('not-the-signing-secret', body);
    await expectRefused(post(body, headers), headers['x-slack-signature']);
  });

  it.each([
    ['295 s old', -295, 200],
    ['305 s old', -305, 401],
    ['an hour old', -3600, 401],
    ['295 s in the future', 295, 200],
    ['305 s in the future', 305, 401],
    ['a day in the future', 86_400, 401],
  ])('a correctly signed request %s: %i', async (_what, skew, expected) => {
    const body = makeBody();
    const headers = signedHeaders(SIGNING_SECRET, body, { timestamp: now() + skew });
    const status = await post(body, headers);
    if (expected === 401) await expectRefused(Promise.resolve(status), headers['x-slack-signature']);
    else {
      expect(status).toBe(200);
      await expect.poll(() => h.jobCount(queue)).toBe(1);
    }
  });

  it('refuses a captured valid request replayed with a changed body (and queues the original once)', async () => {
    const body = makeBody();
    const headers = signedHeaders(SIGNING_SECRET, body);
    expect(await post(body, headers)).toBe(200);
    await expect.poll(() => h.jobCount(queue)).toBe(1);
    const before = await footprint();
    for (const tampered of [
      body.replace(USERS.approver, USERS.viewer).replace(USERS.operator, USERS.viewer),
      body.replace(/pubchain|diagnose/, (m) => (m === 'diagnose' ? 'brokers' : 'testchainid')),
      `${body}&x=1`,
      body.slice(0, -1),
    ]) {
      expect(tampered).not.toBe(body);
      expect(await post(tampered, headers)).toBe(401);
    }
    // The exact replay within the window is Slack's own retry: recognised, queued no second time.
    expect(await post(body, headers)).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    const after = await footprint();
    expect(after.jobs).toBe(before.jobs);
    expect(logs.text()).not.toContain(SIGNING_SECRET);
  });

  it('refuses the same fields encoded differently from what was signed', async () => {
    const body = makeBody();
    const headers = signedHeaders(SIGNING_SECRET, body);
    const fields = new URLSearchParams(body);
    const reordered = new URLSearchParams([...fields.entries()].reverse()).toString();
    const spaces = body.replace(/\+/g, '%20');
    const lowerHex = body.replace(/%[0-9A-F]{2}/g, (m) => m.toLowerCase());
    const json = JSON.stringify(Object.fromEntries(fields.entries()));
    const variants = [reordered, spaces, lowerHex].filter((v) => v !== body);
    expect(variants.length).toBeGreaterThan(0);
    for (const other of variants) {
      expect(Object.fromEntries(new URLSearchParams(other))).toEqual(Object.fromEntries(fields)); // same fields
      await expectRefused(post(other, headers));
    }
    await expectRefused(post(json, { ...headers, 'content-type': 'application/json' }));
  });

  it('refuses missing, repeated or malformed signature headers', async () => {
    const body = makeBody();
    const good = signedHeaders(SIGNING_SECRET, body);
    const { 'x-slack-signature': sig, 'x-slack-request-timestamp': ts, ...rest } = good;
    const cases: Record<string, string>[] = [
      { ...rest, 'x-slack-request-timestamp': ts! }, // no signature
      { ...rest, 'x-slack-signature': sig! }, // no timestamp
      rest, // neither
      { ...good, 'x-slack-signature': sig!.replace(/^v0=/, 'v1=') },
      { ...good, 'x-slack-signature': 'v0=' },
      { ...good, 'x-slack-signature': sig!.toUpperCase() },
      { ...good, 'x-slack-request-timestamp': `${ts}.0` },
      { ...good, 'x-slack-request-timestamp': `0x${Number(ts).toString(16)}` },
      { ...good, 'x-slack-request-timestamp': '' },
    ];
    for (const headers of cases) await expectRefused(post(body, headers), sig);
  });
});

describe('requests that are not commands or presses', () => {
  it("Slack's ssl_check needs no signature but cannot smuggle a command in", async () => {
    const smuggled = `ssl_check=1&${commandBody()}`;
    const status = await post(smuggled, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(status).toBe(200);
    await new Promise((r) => setTimeout(r, 150));
    expect(await footprint()).toEqual({ keys: [], jobs: 0, calls: 0 });
  });
});

describe('slackRequestProblem (the check in front of Bolt)', () => {
  const t = 1_800_000_000;
  const sig = slackSignature('s', t, '');
  const at = (ts: string | null, s: string | null = sig) => ({
    ...(ts !== null ? { 'x-slack-request-timestamp': ts } : {}),
    ...(s !== null ? { 'x-slack-signature': s } : {}),
  });

  it('takes the window as ±300 s inclusive', () => {
    for (const d of [-300, -1, 0, 1, 300])
      expect(slackRequestProblem(at(String(t + d)), t * 1000)).toBeNull();
    expect(slackRequestProblem(at(String(t - 301)), t * 1000)).toMatch(/301 s old/);
    expect(slackRequestProblem(at(String(t + 301)), t * 1000)).toMatch(/301 s in the future/);
  });

  it('leaves a request without either header to Bolt (ssl_check), and refuses half of them', () => {
    expect(slackRequestProblem({}, t * 1000)).toBeNull();
    expect(slackRequestProblem(at(String(t), null), t * 1000)).toMatch(/no x-slack-signature/);
    expect(slackRequestProblem(at(null), t * 1000)).toMatch(/no x-slack-request-timestamp/);
  });
});
