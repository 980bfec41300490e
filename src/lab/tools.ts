/**
 * Kafka's own command-line tools from the lab's jar set (no kafka-*.sh scripts: the class is run directly).
 * 3.x: org.apache.kafka.tools.TopicCommand / GetOffsetShell (kafka-tools, --bootstrap-server);
 * 1.x/2.x: kafka.admin.TopicCommand (--zookeeper) and kafka.tools.GetOffsetShell (--broker-list).
 */
import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { baseJvmFlags } from './configs.js';
import { loadLabState } from './lab.js';
import type { LabOptions } from './options.js';

export type KafkaTool = 'TopicCommand' | 'GetOffsetShell';

/** The main class of a tool for a Kafka release. */
export function toolClass(kafkaVersion: string, tool: KafkaTool): string {
  const major = Number.parseInt(kafkaVersion, 10);
  if (major >= 3) return `org.apache.kafka.tools.${tool}`;
  return tool === 'TopicCommand' ? 'kafka.admin.TopicCommand' : 'kafka.tools.GetOffsetShell';
}

/**
 * The command line (java first) that runs `tool` of the lab's Kafka with `args`. Logging goes to
 * `<workDir>/tools.log`, so stdout carries only the tool's output.
 */
export function kafkaToolCommand(
  lab: Pick<LabOptions, 'workDir'>,
  tool: KafkaTool,
  args: string[],
): string[] {
  const state = loadLabState(lab);
  const o = state.options;
  return [
    o.javaBin,
    ...baseJvmFlags(o, 256),
    `-Dlab.log.file=${join(o.workDir, 'tools.log')}`,
    '-cp',
    join(state.jarsDir, '*'),
    toolClass(o.kafkaVersion, tool),
    ...args,
  ];
}

/** Runs a Kafka tool against the lab and returns its stdout (rejects with stderr on a non-zero exit). */
export function runKafkaTool(
  lab: Pick<LabOptions, 'workDir'>,
  tool: KafkaTool,
  args: string[],
  timeoutMs = 60_000,
): Promise<string> {
  const [cmd, ...rest] = kafkaToolCommand(lab, tool, args);
  return new Promise((resolve, reject) => {
    execFile(
      cmd as string,
      rest,
      { timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`${tool} ${args.join(' ')}: ${stderr.trim() || err.message}`));
        else resolve(stdout);
      },
    );
  });
}
