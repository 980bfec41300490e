/**
 * Repair suggestions attached to findings. Kinds and args are what `repair plan <kind> [args]` takes; the plan
 * builder (someone else's module) re-checks everything before proposing steps, so a suggestion is only a hint.
 */
import type { RepairSuggestion } from '../model/index.js';
import type { SnapshotIndex } from './context.js';

export function restartBroker(ix: SnapshotIndex, broker: number): RepairSuggestion {
  const container = ix.brokerContainer(broker);
  return container === undefined
    ? {
        kind: 'restart-container',
        args: { broker },
        title: `Restart broker ${broker} (its container or service)`,
      }
    : {
        kind: 'restart-container',
        args: { container, broker },
        title: `Restart broker ${broker}'s container ${container}`,
      };
}

export function drainBroker(broker: number): RepairSuggestion {
  return {
    kind: 'drain-broker',
    args: { broker },
    title: `Move every partition replica off broker ${broker} before stopping it`,
  };
}

export function raiseReplication(topic: string): RepairSuggestion {
  return { kind: 'raise-replication', args: { topic }, title: `Raise ${topic}'s replication factor to 3` };
}

export function preferredLeaderElection(topic: string, partition: number): RepairSuggestion {
  return {
    kind: 'preferred-leader-election',
    args: { topic, partition },
    title: `Trigger a leader election for ${topic}/${partition}`,
  };
}

export function setTopicConfig(topic: string, key: string, value: string): RepairSuggestion {
  return { kind: 'set-topic-config', args: { topic, key, value }, title: `Set ${key}=${value} on ${topic}` };
}
