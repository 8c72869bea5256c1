import { createHash } from 'node:crypto';
import type { BulkOperation, BulkSelector } from '@lightsout/shared';
import { spendOrRequestApproval } from '../../automation/approvals.js';
import type { ToolContext } from './tools.js';

/** The servers an approval is for, as one value: their sorted ids, hashed (the approver sees at most 50 of them). */
export function serversDigest(serverIds: readonly string[]): string {
  return createHash('sha256')
    .update([...serverIds].sort().join('\n'))
    .digest('hex');
}

/**
 * A bulk job the tenant policy holds for approval: resolved now (a dry run),
 * refused as submit would refuse it, then approved for exactly these servers.
 * Returns the selector the job runs with: the approved ids, so servers
 * relabelled between the approval and the run are not acted on. Undefined
 * when the selector names no server (nothing to approve, nothing runs).
 */
export async function approvedBulkSelector(context: ToolContext, selector: BulkSelector, operation: BulkOperation, approvalId: string | undefined): Promise<BulkSelector | undefined> {
  const { app, request } = context;
  const principal = request.principal!;
  const preview = await app.bulk.submit(principal, { selector, operation, dryRun: true }, { sourceIp: request.ip, correlationId: request.id });
  const serverIds = (preview.servers ?? []).map((server) => server.id);
  if (serverIds.length === 0) return undefined;
  // Refused as submit would refuse it, before an approval is asked for or spent: a caller who could never
  // run the job must not leave a request in a tenant admin's queue, nor use up an approval.
  await app.bulk.authorizeRun(principal, operation, serverIds.length, { sourceIp: request.ip, correlationId: request.id });
  const call = { selector, operation };
  await spendOrRequestApproval(
    app.store,
    principal,
    // The fingerprint covers the servers themselves, not only the selector and a count.
    { tool: 'bulk_action', serverId: `bulk:${serverIds.length} servers`, args: { ...call, servers: serversDigest(serverIds) }, shownArgs: { ...call, servers: serverIds.slice(0, 50) } },
    approvalId,
  );
  return { ids: serverIds };
}
