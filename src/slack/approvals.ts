/**
 * What the Slack side needs from the approval flow (src/approvals, src/repairs/executor.ts: another issue).
 * The bot's Approve/Deny buttons call `approve` / `deny`; the repair-plan worker calls `propose` to get the
 * request id it puts on those buttons. The team lead plugs the real implementation in (createSlackBot /
 * startWorkers `approvals` option); until then `approvalsNotWired` refuses politely and approves nothing.
 *
 * The buttons have already checked the approver role when these are called; the implementation must still
 * refuse self-approval, expired or unknown requests, and say why in `message` (shown to the user as is).
 */
import type { Approvals as ApprovalStore } from '../approvals/index.js';
import type { RepairPlan } from '../model/index.js';
import type { Requester } from '../queue/jobs.js';

export interface ApprovalOutcome {
  ok: boolean;
  /** One line for the user, e.g. "approved: the repair is queued" or "you cannot approve your own request". */
  message: string;
}

export interface ProposeInput {
  plan: RepairPlan;
  requester: Requester;
  /** The BullMQ job that built the plan. */
  jobId: string;
}

export type ProposeResult = { requestId: string } | { refused: string };

export interface Approvals {
  /**
   * Record a proposed plan; returns the request id put on the Approve/Deny buttons, or why it cannot be
   * approved at all (the plan is then posted without buttons, with that reason).
   */
  propose?(input: ProposeInput): Promise<ProposeResult>;
  approve(requestId: string, user: string): Promise<ApprovalOutcome>;
  deny(requestId: string, user: string, reason: string): Promise<ApprovalOutcome>;
}

export const approvalsNotWired: Approvals = {
  async approve() {
    return {
      ok: false,
      message: 'approvals are not available in this build yet: nothing was approved or run',
    };
  },
  async deny() {
    return {
      ok: false,
      message: 'approvals are not available in this build yet: the request stays as it was',
    };
  },
};

/**
 * The Slack side of src/approvals' Approvals (the approval store: Redis, audit, TTLs, two approvers for
 * dangerous kinds). `slackApprovals(approvalsFor(inventory, redis, auditLog, enqueue))`.
 */
export function slackApprovals(store: Pick<ApprovalStore, 'requestRepair' | 'approve' | 'deny'>): Approvals {
  return {
    async propose({ plan, requester }) {
      const r = await store.requestRepair({
        plan,
        requester: requester.userId,
        cluster: plan.cluster,
        where: `slack:${requester.channelId}`,
      });
      return r.ok ? { requestId: r.id } : { refused: r.message };
    },
    async approve(requestId, user) {
      const r = await store.approve(requestId, user, 'slack');
      if (!r.ok) return { ok: false, message: r.message };
      if (r.status === 'recorded') {
        return {
          ok: true,
          message: `approval ${r.approvals} of ${r.needed} recorded: another approver is needed`,
        };
      }
      return r.enqueued
        ? { ok: true, message: 'approved: the repair is queued and will re-check every precondition first' }
        : {
            ok: true,
            message: `approved, but the repair could not be queued (${r.enqueueError ?? 'no executor'})`,
          };
    },
    async deny(requestId, user, reason) {
      const r = await store.deny(requestId, user, reason, 'slack');
      return r.ok ? { ok: true, message: `request ${requestId} denied` } : { ok: false, message: r.message };
    },
  };
}
