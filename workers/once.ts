/**
 * One answer per job, whatever happens to the job. BullMQ runs a job again when its lock lapses: a worker that
 * died, but also a worker that is alive and well while Redis was away longer than the lock (the lock's TTL runs
 * on Redis's clock, the AOF keeps it, and the stalled-job check hands the job to another run as soon as Redis
 * is back). Both runs then reach Slack. So the answer of a job is claimed in Redis before it is posted and
 * recorded once it is:
 *
 *   `<prefix>:job:<job id>:answer` = `claim:<token>` (PX claimMs) -> post -> the posted message (JSON, one day)
 *
 * A run that finds the answer recorded returns it instead of posting; one that finds a claim waits for it to
 * become an answer (or to lapse: its holder died before posting, or the post failed and was released).
 * A post that fails releases the claim, so that a retry of the job may post.
 */
import { randomUUID } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { JobResult } from '../src/queue/index.js';
import { luaScript } from '../src/redis.js';

export type Posted = NonNullable<JobResult['posted']>;

const DAY_SECONDS = 86_400;
const CLAIM = 'claim:';

/** KEYS answer; ARGV claim value, final value, ttl seconds. Record the answer only over our own claim. */
const RECORD = luaScript(`
local cur = redis.call('GET', KEYS[1])
if cur == false or cur == ARGV[1] then
  redis.call('SET', KEYS[1], ARGV[2], 'EX', tonumber(ARGV[3]))
  return 1
end
return 0
`);
/** KEYS answer; ARGV claim value. */
const RELEASE = luaScript(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`);

export function answerKey(prefix: string, jobId: string): string {
  return `${prefix}:job:${jobId}:answer`;
}

function parse(raw: string | null): Posted | undefined {
  if (raw === null || raw.startsWith(CLAIM)) return undefined;
  try {
    return JSON.parse(raw) as Posted;
  } catch {
    return undefined;
  }
}

/** The answer a job already posted (an earlier run of it), if any. */
export async function recordedAnswer(
  redis: Redis,
  prefix: string,
  jobId: string,
): Promise<Posted | undefined> {
  return parse(await redis.get(answerKey(prefix, jobId)));
}

export interface AnswerOnceOptions {
  /** How long a claim lives without being turned into an answer (default 60 s). */
  claimMs?: number;
  /** Poll interval while another run holds the claim (default 200 ms). */
  pollMs?: number;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * Run `post` at most once per job id across runs and workers (see the module comment). Returns what was posted
 * (by this run or an earlier one) and whether it was this run. `post` returning null (nothing posted) records
 * nothing.
 */
export async function answerOnce(
  redis: Redis,
  prefix: string,
  jobId: string,
  post: () => Promise<JobResult['posted']>,
  opts: AnswerOnceOptions = {},
): Promise<{ posted: JobResult['posted']; already: boolean }> {
  const key = answerKey(prefix, jobId);
  const claimMs = opts.claimMs ?? 60_000;
  const claim = `${CLAIM}${randomUUID()}`;
  const deadline = Date.now() + claimMs + 5_000;
  for (;;) {
    if ((await redis.set(key, claim, 'PX', claimMs, 'NX')) === 'OK') break;
    const raw = await redis.get(key);
    const done = parse(raw);
    if (done !== undefined) return { posted: done, already: true };
    if (Date.now() > deadline) {
      throw new Error(`the answer of job ${jobId} is claimed by another run that neither posts nor lets go`);
    }
    await sleep(opts.pollMs ?? 200);
  }
  let posted: JobResult['posted'];
  try {
    posted = await post();
  } catch (err) {
    await RELEASE.run(redis, [key], [claim]).catch(() => undefined);
    throw err;
  }
  if (posted === null) await RELEASE.run(redis, [key], [claim]);
  else await RECORD.run(redis, [key], [claim, JSON.stringify(posted), DAY_SECONDS]);
  return { posted, already: false };
}
