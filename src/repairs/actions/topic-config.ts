/**
 * The `set-topic-config` step. AlterConfigs (API 33; Kafka 0.11+, so Fabric's 1.0.2 and 3.9) replaces every
 * override of the topic, and kafkajs has no IncrementalAlterConfigs: the handler reads the topic's current
 * overrides from ZooKeeper (/config/topics/<topic>), adds the step's keys and sends them all. Brokers without
 * AlterConfigs: a versioned write of /config/topics/<topic> plus a /config/changes notification.
 * Then it reads the value back (the ZooKeeper override and DescribeConfigs) until the brokers report it.
 * Idempotent: a key already set to the value is not sent again.
 */
import kafkajs from 'kafkajs';
import { API_ALTER_CONFIGS } from '../set-topic-config.js';
import { idempotent, type StepHandler, type StepOutcome } from '../steps.js';
import { allSupport, pause, secs, type RepairEnv } from './env.js';
import { alterEntityConfig, readEntityConfig } from './zk.js';

// kafkajs is CommonJS: Node's ESM loader does not see ConfigResourceTypes as a named export (vitest would).
const { ConfigResourceTypes } = kafkajs;

export const READ_BACK_MS = 15_000;
const API_DESCRIBE_CONFIGS = 32;

async function describeTopic(env: RepairEnv, topic: string, keys: string[]): Promise<Record<string, string>> {
  const admin = env.kafka().admin();
  await admin.connect();
  try {
    const res = await admin.describeConfigs({
      includeSynonyms: false,
      resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configNames: keys }],
    });
    const out: Record<string, string> = {};
    for (const e of res.resources[0]?.configEntries ?? []) out[e.configName] = e.configValue;
    return out;
  } finally {
    await admin.disconnect();
  }
}

export function topicConfigHandler(
  env: RepairEnv,
  readBackMs = READ_BACK_MS,
): StepHandler<'set-topic-config'> {
  return idempotent<'set-topic-config'>(async (step, ctx): Promise<StepOutcome> => {
    const apis = await env.apiVersions();
    const useApi = allSupport(apis, API_ALTER_CONFIGS);
    // Kafka before 0.11 has neither AlterConfigs nor DescribeConfigs: read back from ZooKeeper only.
    const canDescribe = allSupport(apis, API_DESCRIBE_CONFIGS);
    const keys = Object.keys(step.configs);
    const shown = Object.entries(step.configs)
      .map(([k, v]) => `${k}=${v}`)
      .join(', ');
    const before = await env.withZk(async (zk) => {
      if ((await zk.getData(`/brokers/topics/${step.topic}`)) === null) {
        throw new Error(`topic ${step.topic} does not exist (no /brokers/topics/${step.topic} in ZooKeeper)`);
      }
      return (await readEntityConfig(zk, 'topics', step.topic)).config;
    });
    const todo = keys.filter((k) => before[k] !== step.configs[k]);
    let path = 'nothing written';
    if (todo.length > 0) {
      ctx.signal.throwIfAborted();
      if (useApi) {
        path = `AlterConfigs (API ${API_ALTER_CONFIGS}) with the topic's ${Object.keys(before).length} other override(s) re-sent`;
        const merged = { ...before, ...step.configs };
        const admin = env.kafka().admin();
        await admin.connect();
        try {
          await admin.alterConfigs({
            validateOnly: false,
            resources: [
              {
                type: ConfigResourceTypes.TOPIC,
                name: step.topic,
                configEntries: Object.entries(merged).map(([name, value]) => ({ name, value })),
              },
            ],
          });
        } catch (err) {
          throw new Error(`AlterConfigs on topic ${step.topic} (${shown}): ${(err as Error).message}`, {
            cause: err,
          });
        } finally {
          await admin.disconnect();
        }
      } else {
        path = `ZooKeeper /config/topics/${step.topic} with a change notification`;
        await env.withZk((zk) =>
          alterEntityConfig(zk, 'topics', step.topic, (cfg) => ({ ...cfg, ...step.configs })),
        );
      }
    }
    // Read back: ZooKeeper holds the override at once; the brokers apply it on the change notification.
    const t0 = performance.now();
    let seen: Record<string, string> = {};
    let zkNow: Record<string, string> = {};
    let lastError: string | undefined;
    for (;;) {
      ctx.signal.throwIfAborted();
      try {
        zkNow = await env.withZk(async (zk) => (await readEntityConfig(zk, 'topics', step.topic)).config);
        seen = canDescribe ? await describeTopic(env, step.topic, keys) : zkNow;
        lastError = undefined;
        if (keys.every((k) => zkNow[k] === step.configs[k] && seen[k] === step.configs[k])) break;
      } catch (err) {
        lastError = (err as Error).message;
      }
      if (performance.now() - t0 > readBackMs) {
        const got = keys.map(
          (k) => `${k}: override ${zkNow[k] ?? 'absent'}, brokers report ${seen[k] ?? 'nothing'}`,
        );
        return {
          ok: false,
          detail: `${step.topic}: wrote ${shown} (${path}) but read back ${got.join('; ')} after ${secs(readBackMs)}${lastError ? ` (last error: ${lastError})` : ''}`,
        };
      }
      await pause(Math.min(env.pollMs, 500), ctx.signal);
    }
    const lost = Object.keys(before).filter((k) => !keys.includes(k) && zkNow[k] !== before[k]);
    return {
      ok: lost.length === 0,
      detail:
        todo.length === 0
          ? `${step.topic} already had ${shown}: nothing written`
          : `set ${shown} on ${step.topic} through ${path}; read back from ZooKeeper${canDescribe ? ' and the brokers' : ''}` +
            (lost.length > 0 ? `; but override(s) ${lost.join(', ')} changed meanwhile: check them` : ''),
      data: { path, before: Object.fromEntries(keys.map((k) => [k, before[k] ?? null])), written: todo },
    };
  });
}
