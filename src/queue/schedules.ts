/**
 * Scheduled checks: one BullMQ job scheduler per cluster (bullmq 6 has no `repeat` option on add; it is
 * silently ignored), every `clusters.<name>.checks.everySeconds`; 0 turns a cluster's checks off. Syncing is
 * idempotent, so every worker process may do it at start: the schedulers end up matching the inventory.
 */
import type { Queue } from 'bullmq';
import type { Inventory } from '../config/index.js';
import { CHECK_SCHEDULER_PREFIX, checkSchedulerId } from './ids.js';
import { jobOptions, type JobData } from './jobs.js';

export interface ScheduleSync {
  scheduled: { cluster: string; everySeconds: number }[];
  removed: string[];
}

export async function syncSchedules(checks: Queue<JobData>, inventory: Inventory): Promise<ScheduleSync> {
  const scheduled: ScheduleSync['scheduled'] = [];
  const wanted = new Set<string>();
  for (const [cluster, config] of Object.entries(inventory.clusters)) {
    const everySeconds = config.checks.everySeconds;
    if (everySeconds <= 0) continue;
    const id = checkSchedulerId(cluster);
    wanted.add(id);
    await checks.upsertJobScheduler(
      id,
      { every: everySeconds * 1000 },
      {
        name: 'scheduled-check',
        data: { kind: 'scheduled-check', cluster, requestedAt: 'scheduled' },
        opts: jobOptions('scheduled-check'),
      },
    );
    scheduled.push({ cluster, everySeconds });
  }
  const removed: string[] = [];
  for (const s of await checks.getJobSchedulers(0, -1)) {
    const id = s.key;
    if (id.startsWith(CHECK_SCHEDULER_PREFIX) && !wanted.has(id)) {
      await checks.removeJobScheduler(id);
      removed.push(id);
    }
  }
  return { scheduled, removed };
}
