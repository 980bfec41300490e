/**
 * What the Slack side needs from the approval flow. The bot's Approve/Deny buttons call `approve` / `deny`; the
 * repair-plan worker calls `propose` to get the request id it puts on those buttons. `slackApprovals(store)` is
 * the real one (src/approvals: Redis, audit, TTLs, two approvers for dangerous kinds); `approvalsNotWired`
 * refuses politely and approves nothing (a bot started without a store).
 *
 * The buttons have already checked the approver role when these are called; the implementation must still
 * refuse self-approval, expired or unknown requests, and say why in `message` (shown to the user as is).
 */
import type { Approvals as ApprovalStore, RepairRequest } from '../approvals/index.js';
import { describeError } from '../errors/index.js';
import type { Logger } from '../log.js';
import type { RepairPlan } from '../model/index.js';
import type { RepairEvent, Requester } from '../queue/jobs.js';

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

/** What the bot may know about a request before deciding (the channel rule of its cluster). */
export interface RequestSummary {
  cluster: string;
  status: string;
  requester: string;
}

export interface Approvals {
  /**
   * Record a proposed plan; returns the request id put on the Approve/Deny buttons, or why it cannot be
   * approved at all (the plan is then posted without buttons, with that reason).
   */
  propose?(input: ProposeInput): Promise<ProposeResult>;
  /** `where`: "slack:C0123" (the channel the button was pressed in). */
  approve(requestId: string, user: string, where?: string): Promise<ApprovalOutcome>;
  deny(requestId: string, user: string, reason: string, where?: string): Promise<ApprovalOutcome>;
  /** The request's cluster and status (null: unknown id). Optional: without it no channel rule applies. */
  describe?(requestId: string): Promise<RequestSummary | null>;
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

/** A decision to tell in the plan's thread (a `repair-notice` job; see src/queue/repairs.ts). */
export interface RepairNotice {
  request: RepairRequest;
  event: RepairEvent;
  who: string;
  where: string;
  message: string;
}

export interface SlackApprovalsOptions {
  /** Tell the plan's thread (best effort: a failure is logged, the decision stands). */
  notify?: (notice: RepairNotice) => Promise<void>;
  logger?: Logger;
}

/**
 * The Slack side of src/approvals' Approvals (the approval store: Redis, audit, TTLs, two approvers for
 * dangerous kinds). `slackApprovals(repairApprovals(inventory, redis, auditLog, enqueue), { notify })`.
 */
export function slackApprovals(
  store: Pick<ApprovalStore, 'requestRepair' | 'approve' | 'deny'> & Partial<Pick<ApprovalStore, 'get'>>,
  opts: SlackApprovalsOptions = {},
): Approvals {
  const notify = async (n: RepairNotice) => {
    if (!opts.notify) return;
    try {
      await opts.notify(n);
    } catch (err) {
      opts.logger?.warn({ err: describeError(err), id: n.request.id, event: n.event }, 'notice not queued');
    }
  };
  return {
    ...(store.get
      ? {
          async describe(requestId: string): Promise<RequestSummary | null> {
            const r = await store.get!(requestId);
            return r ? { cluster: r.cluster, status: r.status, requester: r.requester } : null;
          },
        }
      : {}),
    async propose({ plan, requester }) {
      const r = await store.requestRepair({
        plan,
        requester: requester.userId,
        cluster: plan.cluster,
        where: `slack:${requester.channelId}`,
      });
      return r.ok ? { requestId: r.id } : { refused: r.message };
    },
    async approve(requestId, user, where = 'slack') {
      const r = await store.approve(requestId, user, where);
      if (!r.ok) return { ok: false, message: r.message };
      if (r.status === 'recorded') {
        const message = `approval ${r.approvals} of ${r.needed} recorded: another approver is needed`;
        await notify({ request: r.request, event: 'recorded', who: user, where, message });
        return { ok: true, message };
      }
      const message = r.enqueued
        ? 'approved: the repair is queued and will re-check every precondition first'
        : `approved, but the repair could not be queued (${r.enqueueError ?? 'no executor'}); it will be queued again by the next sweep`;
      await notify({ request: r.request, event: 'approved', who: user, where, message });
      return { ok: true, message };
    },
    async deny(requestId, user, reason, where = 'slack') {
      const r = await store.deny(requestId, user, reason, where);
      if (!r.ok) return { ok: false, message: r.message };
      const message = `request ${requestId} ${user === r.request.requester ? 'withdrawn' : 'denied'}`;
      await notify({ request: r.request, event: 'denied', who: user, where, message });
      return { ok: true, message };
    },
  };
}
