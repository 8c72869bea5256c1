import { createHash, randomUUID } from 'node:crypto';
import { type ApprovalView, LightsoutError } from '@lightsout/shared';
import type { Principal } from '../identity/verifier.js';
import type { AutomationApprovalTable } from '../store/database.js';
import type { Store } from '../store/open.js';

/** How long a request waits for a decision, and how long an approval may then be used. */
export const APPROVAL_TTL_MS = 60 * 60_000;

/** The exact call an approval is for: same tool, same server, same arguments (keys sorted). */
export function callFingerprint(tool: string, serverId: string, args: Record<string, unknown>): string {
  const canonical = JSON.stringify(Object.keys(args).sort().map((key) => [key, args[key]]));
  return createHash('sha256').update(`${tool}\n${serverId}\n${canonical}`).digest('hex');
}

export function approvalView(row: AutomationApprovalTable, now = Date.now()): ApprovalView {
  const status = (row.status === 'pending' || row.status === 'approved') && row.expires_at <= now ? 'expired' : (row.status as ApprovalView['status']);
  return {
    id: row.id,
    tenant: row.tenant_id,
    tool: row.tool,
    serverId: row.server_id,
    arguments: JSON.parse(row.arguments) as Record<string, unknown>,
    requestedBy: row.username,
    status,
    createdAt: new Date(row.created_at).toISOString(),
    expiresAt: new Date(row.expires_at).toISOString(),
    decidedBy: row.decided_by,
  };
}

export interface HeldCall {
  tool: string;
  serverId: string;
  /** The call's arguments without the approval id. */
  args: Record<string, unknown>;
  /** The same, redacted, as the approver sees them. */
  shownArgs: Record<string, unknown>;
}

/**
 * A call the policy holds for approval. With the id of an approval of this
 * very call by this caller, the approval is spent (once) and the call may
 * run; otherwise APPROVAL_REQUIRED names the request to approve (a new one,
 * or the one given while it still waits).
 */
export async function spendOrRequestApproval(store: Store, principal: Principal, call: HeldCall, approvalId: string | undefined, now = Date.now()): Promise<void> {
  const fingerprint = callFingerprint(call.tool, call.serverId, call.args);
  if (approvalId !== undefined) {
    const row = await store.selectFrom('automation_approvals').selectAll().where('id', '=', approvalId).executeTakeFirst();
    // Another tenant's or another caller's approval, or one for another call: as if it did not exist.
    if (row === undefined || row.tenant_id !== principal.tenant || row.subject !== principal.subject || row.fingerprint !== fingerprint) throw new LightsoutError('NOT_FOUND', `no approval ${approvalId} for this call`);
    const view = approvalView(row, now);
    if (view.status === 'denied') throw new LightsoutError('POLICY_DENIED', `a tenant admin denied approval ${approvalId}`);
    if (view.status === 'used' || view.status === 'expired') throw new LightsoutError('POLICY_DENIED', `approval ${approvalId} is ${view.status}; call again without it to ask for a new one`);
    if (view.status === 'pending') throw approvalRequired(approvalId);
    // Spent exactly once, even when two calls race with the same id.
    const spent = await store.updateTable('automation_approvals').set({ status: 'used' }).where('id', '=', approvalId).where('status', '=', 'approved').executeTakeFirst();
    if (Number(spent.numUpdatedRows) !== 1) throw new LightsoutError('POLICY_DENIED', `approval ${approvalId} was used already`);
    return;
  }
  const id = randomUUID();
  await store
    .insertInto('automation_approvals')
    .values({
      id,
      tenant_id: principal.tenant,
      tool: call.tool,
      server_id: call.serverId,
      arguments: JSON.stringify(call.shownArgs),
      fingerprint,
      subject: principal.subject,
      username: principal.username,
      status: 'pending',
      created_at: now,
      expires_at: now + APPROVAL_TTL_MS,
      decided_by: null,
      decided_at: null,
    })
    .execute();
  throw approvalRequired(id);
}

function approvalRequired(id: string): LightsoutError {
  return new LightsoutError('APPROVAL_REQUIRED', `the tenant policy needs a tenant admin to approve this call (approval ${id})`, {
    hint: `a tenant admin runs: lightsout automation approve ${id}; then call again with approval_id "${id}"`,
    details: { approvalId: id },
  });
}

/** A tenant admin's decision on a pending request of their tenant; nobody approves their own. */
export async function decideApproval(store: Store, decider: Principal, tenant: string, id: string, decision: 'approved' | 'denied', now = Date.now()): Promise<ApprovalView> {
  const row = await store.selectFrom('automation_approvals').selectAll().where('id', '=', id).executeTakeFirst();
  if (row === undefined || row.tenant_id !== tenant) throw new LightsoutError('NOT_FOUND', `no approval ${id}`);
  if (row.subject === decider.subject) throw new LightsoutError('FORBIDDEN', 'a request is decided by another person than the one who made it');
  if (approvalView(row, now).status !== 'pending') throw new LightsoutError('CONFLICT', `approval ${id} is ${approvalView(row, now).status}, not pending`);
  const updated = await store.updateTable('automation_approvals').set({ status: decision, decided_by: decider.username, decided_at: now }).where('id', '=', id).where('status', '=', 'pending').executeTakeFirst();
  if (Number(updated.numUpdatedRows) !== 1) throw new LightsoutError('CONFLICT', `approval ${id} was decided meanwhile`);
  return approvalView({ ...row, status: decision, decided_by: decider.username, decided_at: now }, now);
}
