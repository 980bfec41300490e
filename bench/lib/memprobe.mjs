/**
 * Preloaded into a process a benchmark measures (`node --import <this file> bin/fabric-opsbot.js ...`): appends
 * one JSON line of process.memoryUsage() to the file named by FABRIC_OPSBOT_MEMPROBE every
 * FABRIC_OPSBOT_MEMPROBE_MS ms (default 5000), and a last one at exit. With `--expose-gc` and
 * FABRIC_OPSBOT_MEMPROBE_GC_EVERY=n, every n-th sample is taken right after a full GC (kind "gc": the heap the
 * process really retains, without the garbage not yet collected). Does nothing without the variable.
 */
/* global setInterval */
import { appendFileSync } from 'node:fs';

const file = process.env.FABRIC_OPSBOT_MEMPROBE;
if (file) {
  const everyMs = Number(process.env.FABRIC_OPSBOT_MEMPROBE_MS || 5000);
  const gcEvery = Number(process.env.FABRIC_OPSBOT_MEMPROBE_GC_EVERY || 0);
  const gc = typeof globalThis.gc === 'function' ? globalThis.gc : null;
  let n = 0;
  const sample = (kind) => {
    const m = process.memoryUsage();
    const line = {
      t: Date.now(),
      kind,
      pid: process.pid,
      rss: m.rss,
      heapUsed: m.heapUsed,
      heapTotal: m.heapTotal,
      external: m.external,
      arrayBuffers: m.arrayBuffers,
      maxRssKb: process.resourceUsage().maxRSS,
    };
    try {
      appendFileSync(file, `${JSON.stringify(line)}\n`);
    } catch {
      // the benchmark went away: nothing to report to
    }
  };
  sample('start');
  const timer = setInterval(() => {
    n++;
    if (gc && gcEvery > 0 && n % gcEvery === 0) {
      gc();
      sample('gc');
    } else sample('tick');
  }, everyMs);
  timer.unref();
  process.on('exit', () => sample('exit'));
}
