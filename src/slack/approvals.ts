/**
 * What the Slack side needs from the approval flow (src/approvals, src/repairs/executor.ts: another issue).
 * The bot's Approve/Deny buttons call `approve` / `deny`; the repair-plan worker calls `propose` to get the
 * request id it puts on those buttons. The team lead plugs the real implementation in (createSlackBot /
 * startWorkers `approvals` option); until then `approvalsNotWired` refuses politely and approves nothing.
 *
 * The buttons have already checked the approver role when these are called; the implementation must still
 * refuse self-approval, expired or unknown requests, and say why in `message` (shown to the user as is).
 */
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

export interface Approvals {
  /** Record a proposed plan; returns the request id put on the Approve/Deny buttons. */
  propose?(input: ProposeInput): Promise<{ requestId: string }>;
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
