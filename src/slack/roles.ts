/**
 * Roles from the inventory: `slack.users` (user id -> role), else `slack.defaultRole` ("none" by default).
 * viewer: status, diagnose, brokers, whatif, audit. operator: + request repairs. approver: + approve them.
 * Every command and every button press is checked here, in the bot (and the job carries the role it was granted).
 */
import { hasRole, inventoryRoles, type EffectiveRole } from '../approvals/index.js';
import type { Inventory, Role } from '../config/index.js';

export type { EffectiveRole };
export type Permission = 'view' | 'request-repair' | 'approve';

const NEEDS: Record<Permission, Role> = { view: 'viewer', 'request-repair': 'operator', approve: 'approver' };

/** The same lookup the approval store uses (src/approvals inventoryRoles). */
export function roleOf(inventory: Pick<Inventory, 'slack'>, userId: string): EffectiveRole {
  return inventoryRoles(inventory)(userId);
}

export function allows(role: EffectiveRole, permission: Permission): boolean {
  return hasRole(role, NEEDS[permission]);
}

export function roleNeeded(permission: Permission): Role {
  return NEEDS[permission];
}

/** A refusal that says who may do it: "`repair` needs the operator role; you are a viewer." */
export function refusal(role: EffectiveRole, permission: Permission, what: string): string {
  const needed = NEEDS[permission];
  const youAre = role === 'none' ? 'you have no role in this bot' : `you are ${article(role)} ${role}`;
  return `:no_entry: ${what} needs the ${needed} role; ${youAre}. Ask an admin to add you to \`slack.users\` in the inventory.`;
}

function article(role: Role): string {
  return role === 'operator' || role === 'approver' ? 'an' : 'a';
}
