import { readFile } from 'node:fs/promises';
import { type ApprovalList, type ApprovalView, type AutomationPolicy, type AutomationPolicyView, LightsoutError } from '@lightsout/shared';
import { json, printable, table } from '../output.js';
import { apiFor, type CommandContext } from './context.js';

const tenantQuery = (tenant: string | undefined) => (tenant === undefined ? '' : `?tenant=${encodeURIComponent(tenant)}`);
const approvalRow = (approval: ApprovalView) => [approval.id, approval.status, approval.tool, approval.serverId, JSON.stringify(approval.arguments), approval.requestedBy, approval.createdAt, approval.decidedBy ?? '-'];

async function readPolicy(path: string): Promise<AutomationPolicy> {
  let text: string;
  try {
    text = path === '-' ? await readStdin() : await readFile(path, 'utf8');
  } catch (error) {
    throw new LightsoutError('BAD_REQUEST', `cannot read ${path}: ${(error as Error).message}`);
  }
  try {
    return JSON.parse(text) as AutomationPolicy;
  } catch (error) {
    throw new LightsoutError('BAD_REQUEST', `${path} is not JSON: ${(error as Error).message}`);
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}

export async function policyGet(context: CommandContext, options: { tenant?: string }): Promise<void> {
  const view = await (await apiFor(context)).get<AutomationPolicyView>(`/v1/automation/policy${tenantQuery(options.tenant)}`);
  context.output.out(json(view));
}

export async function policySet(context: CommandContext, path: string, options: { tenant?: string; json?: boolean }): Promise<void> {
  const policy = await readPolicy(path);
  const view = await (await apiFor(context)).request<AutomationPolicyView>('PUT', `/v1/automation/policy${tenantQuery(options.tenant)}`, policy);
  context.output.out(options.json ? json(view) : printable(`automation policy of ${view.tenant} saved: ${(view.policy.tools ?? ['(read-only tools)']).join(', ')}\n`, { newlines: true }));
}

export async function approvalsList(context: CommandContext, options: { tenant?: string; status?: string; json?: boolean }): Promise<void> {
  const query = new URLSearchParams();
  if (options.tenant !== undefined) query.set('tenant', options.tenant);
  query.set('status', options.status ?? 'pending');
  const list = await (await apiFor(context)).get<ApprovalList>(`/v1/automation/approvals?${query.toString()}`);
  context.output.out(options.json ? json(list) : table(['ID', 'STATUS', 'TOOL', 'SERVER', 'ARGUMENTS', 'REQUESTED BY', 'CREATED', 'DECIDED BY'], list.approvals.map(approvalRow)));
}

export async function approvalDecide(context: CommandContext, verb: 'approve' | 'deny', id: string, options: { tenant?: string; json?: boolean }): Promise<void> {
  const view = await (await apiFor(context)).post<ApprovalView>(`/v1/automation/approvals/${encodeURIComponent(id)}/${verb}${tenantQuery(options.tenant)}`, {});
  context.output.out(options.json ? json(view) : printable(`${view.id}: ${view.status} (${view.tool} on ${view.serverId}, requested by ${view.requestedBy})\n`, { newlines: true }));
}
