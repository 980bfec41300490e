/**
 * The `produce` step of pad-channel: bring a channel's partition up to the offset its orderers expect with
 * Fabric CONNECT messages, and nothing else. Idempotent: it re-reads the high watermark and produces only what
 * is still missing, so a worker that died half way through can run it again.
 */
import type { Kafka } from 'kafkajs';
import { CONNECT_HEX } from '../pad-channel.js';
import { idempotent, type StepHandler } from '../steps.js';

export interface PartitionOffsetReader {
  /** High watermark and log start offset of a partition, asked of its leader. */
  offsets(topic: string, partition: number): Promise<{ highWatermark: number; logStartOffset: number }>;
}

export function kafkaOffsetReader(kafka: Kafka): PartitionOffsetReader {
  return {
    async offsets(topic, partition) {
      const admin = kafka.admin();
      await admin.connect();
      try {
        const all = await admin.fetchTopicOffsets(topic);
        const p = all.find((o) => o.partition === partition);
        if (!p) throw new Error(`${topic}/${partition}: no such partition`);
        return { highWatermark: Number(p.high), logStartOffset: Number(p.low) };
      } finally {
        await admin.disconnect();
      }
    },
  };
}

/**
 * Pads up to the plan's expected high watermark. Refuses any value but CONNECT (1a00) with key "0", and more
 * messages than the step planned (the cluster changed: re-plan).
 */
export function padWithConnectHandler(
  kafka: Kafka,
  reader: PartitionOffsetReader = kafkaOffsetReader(kafka),
): StepHandler<'produce'> {
  return idempotent<'produce'>(async (step, ctx) => {
    if (step.value !== CONNECT_HEX || step.key !== '0') {
      return {
        ok: false,
        detail: `refused: only CONNECT messages (value ${CONNECT_HEX}, key "0") may pad a channel`,
      };
    }
    const target = Number(ctx.plan.expected.highWatermark);
    if (!Number.isInteger(target) || target < 0) {
      return { ok: false, detail: 'refused: the plan has no expected high watermark to pad to' };
    }
    const before = await reader.offsets(step.topic, step.partition);
    const missing = target - before.highWatermark;
    const where = `${step.topic}/${step.partition}`;
    if (missing <= 0) {
      return {
        ok: true,
        detail: `${where} is already at ${before.highWatermark} (target ${target}): nothing produced`,
        data: { produced: 0, highWatermarkBefore: before.highWatermark, target },
      };
    }
    if (missing > step.count) {
      return {
        ok: false,
        detail: `refused: ${where} needs ${missing} messages but the plan said ${step.count}: the partition changed, plan again`,
        data: { missing, planned: step.count, highWatermarkBefore: before.highWatermark },
      };
    }
    ctx.signal.throwIfAborted();
    const producer = kafka.producer({
      allowAutoTopicCreation: false,
      idempotent: false,
      maxInFlightRequests: 1,
    });
    await producer.connect();
    try {
      const value = Buffer.from(CONNECT_HEX, 'hex');
      await producer.send({
        topic: step.topic,
        acks: -1,
        messages: Array.from({ length: missing }, () => ({ key: '0', value, partition: step.partition })),
      });
    } finally {
      await producer.disconnect();
    }
    const after = await reader.offsets(step.topic, step.partition);
    // Orderers post a CONNECT of their own on start and on /healthz probes: at least the target is success.
    const ok = after.highWatermark >= target;
    return {
      ok,
      detail: ok
        ? `produced ${missing} CONNECT messages to ${where} (high watermark ${before.highWatermark} -> ${after.highWatermark})`
        : `produced ${missing} CONNECT messages to ${where} but the high watermark is ${after.highWatermark}, below ${target}`,
      data: {
        produced: missing,
        highWatermarkBefore: before.highWatermark,
        highWatermarkAfter: after.highWatermark,
        target,
      },
    };
  });
}
