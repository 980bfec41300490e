import type { Redis } from 'ioredis';
import type { AuditLog } from '../audit/index.js';
import type { Inventory } from '../config/index.js';
import {
  Approvals,
  DEFAULT_DANGEROUS_KINDS,
  DEFAULT_TTL_MINUTES,
  type EffectiveRole,
  type RepairRequest,
} from './approvals.js';

export * from './approvals.js';

/** Roles from the inventory: slack.users, else slack.defaultRole, else none. */
export function inventoryRoles(inventory: Pick<Inventory, 'slack'>): (userId: string) => EffectiveRole {
  return (userId) => inventory.slack?.users[userId] ?? inventory.slack?.defaultRole ?? 'none';
}

/** Approvals configured from an inventory (roles, dangerous kinds, per-cluster approval TTL). */
export function approvalsFor(
  inventory: Inventory,
  redis: Redis,
  audit: AuditLog,
  enqueue?: (request: RepairRequest) => Promise<void>,
): Approvals {
  return new Approvals({
    redis,
    prefix: inventory.redis.prefix,
    audit,
    roleOf: inventoryRoles(inventory),
    dangerousKinds: inventory.slack?.dangerousRepairs ?? DEFAULT_DANGEROUS_KINDS,
    ttlMinutes: (cluster) => inventory.clusters[cluster]?.repairs.approvalTtlMinutes ?? DEFAULT_TTL_MINUTES,
    ...(enqueue ? { enqueue } : {}),
  });
}
