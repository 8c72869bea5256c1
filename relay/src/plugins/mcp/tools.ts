import { type AutomationTool, BootDevice, type BulkAccepted, BulkOperation, BulkSelector, BulkServerResult, BulkTarget, LightsoutError, MediaState, PowerAction, PowerState, SelEntry, Sensor, type ServerView } from '@lightsout/shared';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type, { type TObject, type TProperties } from 'typebox';
import { type Permission, powerPermission } from '../../access/permissions.js';
import { spendOrRequestApproval } from '../../automation/approvals.js';
import { type CompiledPolicy, consoleLineRefusal } from '../../automation/policy.js';
import type { Redactor } from '../../automation/redact.js';
import { type ServerFilter, matchesFilter } from '../../inventory/filter.js';
import { settledWithin } from '../../settled-within.js';
import { approvedBulkSelector } from './bulk-approval.js';
import { consoleExchange } from './console.js';

/** What a tool runs with: the MCP request (principal, audit origin), the tenant policy, the redactor. */
export interface ToolContext {
  app: FastifyInstance;
  request: FastifyRequest;
  policy: CompiledPolicy;
  redact: Redactor;
}

/** A tool's answer before the envelope (duration_ms, server_ids) is added. */
export interface ToolAnswer {
  result: Record<string, unknown>;
  serverIds: string[];
}

export interface ToolDefinition {
  name: AutomationTool;
  title: string;
  description: string;
  /** What every call needs at least: a caller whose role lacks it does not see the tool. */
  least: Permission;
  /** Hints for clients (MCP ToolAnnotations). */
  readOnly: boolean;
  destructive: boolean;
  input: TObject;
  /** The result's own fields; the envelope adds duration_ms and server_ids. */
  output: TProperties;
  run(context: ToolContext, args: Record<string, unknown>): Promise<ToolAnswer>;
}

const ServerId = Type.String({ minLength: 1, maxLength: 63, description: 'the server id (list_servers shows them)' });

/** A server as tools show it: what an assistant needs to pick one, not the BMC endpoints. */
const ToolServer = Type.Object({
  id: Type.String(),
  name: Type.String(),
  tenant: Type.String(),
  region: Type.String(),
  datacenter: Type.String(),
  rack: Type.String(),
  labels: Type.Record(Type.String(), Type.String()),
  power: PowerState,
  agent: Type.Union([Type.Literal('online'), Type.Literal('offline')]),
  capabilities: Type.Array(Type.String()),
  state_at: Type.Union([Type.String(), Type.Null()]),
});

function toolServer(view: ServerView) {
  return {
    id: view.id,
    name: view.name,
    tenant: view.tenant,
    region: view.region,
    datacenter: view.datacenter,
    rack: view.rack,
    labels: view.labels,
    power: view.power,
    agent: view.agent,
    capabilities: [...view.capabilities],
    state_at: view.stateAt,
  };
}

async function authorized(context: ToolContext, permission: Permission, serverId: string): Promise<void> {
  await context.app.access.authorize(context.request, permission, serverId);
}

// CSI/OSC escape sequences and the lone carriage returns of a terminal: what a reader of lines does not want.
// eslint-disable-next-line no-control-regex
const TERMINAL_ESCAPES = /\u001b\[[0-?]*[ -/]*[@-~]|\u001b\][^\u0007\u001b]*(?:\u0007|\u001b\\)|\u001b[@-Z\\-_]/g;

/** Console bytes as text lines, escapes removed; the last `count`. */
export function consoleLines(bytes: Buffer, count: number): string[] {
  const text = bytes.toString('utf8').replace(TERMINAL_ESCAPES, '');
  // eslint-disable-next-line no-control-regex
  const lines = text.split(/\r?\n/).map((line) => line.replace(/^.*\r(?=.)/, '').replace(/[\u0000-\u0008\u000b-\u001f\u007f]/g, ''));
  while (lines.length > 0 && lines.at(-1) === '') lines.pop();
  return lines.slice(-count);
}

/** What bulk_action and bulk_status answer: the job as far as it got (or a dry run's list). */
const BulkOutput = {
  job_id: Type.Union([Type.String(), Type.Null()]),
  dry_run: Type.Boolean(),
  total: Type.Integer({ minimum: 0 }),
  state: Type.Optional(Type.Union([Type.Literal('running'), Type.Literal('finished')])),
  succeeded: Type.Optional(Type.Integer({ minimum: 0 })),
  failed: Type.Optional(Type.Integer({ minimum: 0 })),
  servers: Type.Optional(Type.Array(BulkTarget)),
  results: Type.Optional(Type.Array(BulkServerResult)),
};

function bulkAnswer(app: FastifyInstance, request: FastifyRequest, accepted: BulkAccepted): ToolAnswer {
  if (accepted.jobId === null) return { result: { job_id: null, dry_run: true, total: accepted.total, servers: accepted.servers ?? [] }, serverIds: (accepted.servers ?? []).map((server) => server.id) };
  const view = app.bulk.get(request.principal!, accepted.jobId);
  return {
    result: { job_id: view.id, dry_run: false, total: view.total, state: view.state, succeeded: view.succeeded, failed: view.failed, results: view.results },
    serverIds: view.results.map((result) => result.serverId),
  };
}

export const TOOLS: readonly ToolDefinition[] = [
  {
    name: 'list_servers',
    title: 'List servers',
    description: 'Servers you may reach, optionally filtered by name (substring), label (key=value), rack, datacenter or power state.',
    least: 'servers.read',
    readOnly: true,
    destructive: false,
    input: Type.Object(
      {
        name: Type.Optional(Type.String({ maxLength: 128 })),
        label: Type.Optional(Type.String({ maxLength: 128, pattern: '^[^=]+=.*$', description: 'key=value' })),
        rack: Type.Optional(Type.String({ maxLength: 63 })),
        datacenter: Type.Optional(Type.String({ maxLength: 63 })),
        power: Type.Optional(PowerState),
      },
      { additionalProperties: false },
    ),
    output: { servers: Type.Array(ToolServer) },
    async run({ app, request }, args) {
      const { name, label, rack, datacenter, power } = args as { name?: string; label?: string; rack?: string; datacenter?: string; power?: string };
      const [labelKey, labelValue] = label === undefined ? [] : [label.slice(0, label.indexOf('=')), label.slice(label.indexOf('=') + 1)];
      const filter: ServerFilter = { ...(name === undefined ? {} : { name }), ...(labelKey === undefined ? {} : { labels: { [labelKey]: labelValue! } }), ...(rack === undefined ? {} : { rack }), ...(datacenter === undefined ? {} : { datacenter }), ...(power === undefined ? {} : { power: power as PowerState }) };
      const servers = (await app.serverOperations.list(request)).filter((server) => matchesFilter(server, filter));
      return { result: { servers: servers.map(toolServer) }, serverIds: servers.map((server) => server.id) };
    },
  },
  {
    name: 'get_server',
    title: 'Get a server',
    description: 'One server: placement, labels, power state as last seen, agent state, capabilities.',
    least: 'servers.read',
    readOnly: true,
    destructive: false,
    input: Type.Object({ server_id: ServerId }, { additionalProperties: false }),
    output: { server: ToolServer },
    async run(context, args) {
      const serverId = args['server_id'] as string;
      await authorized(context, 'servers.read', serverId);
      return { result: { server: toolServer(await context.app.serverOperations.get(context.request, serverId)) }, serverIds: [serverId] };
    },
  },
  {
    name: 'power_status',
    title: 'Power status',
    description: "Ask the server's BMC for its power state now.",
    least: 'power.read',
    readOnly: true,
    destructive: false,
    input: Type.Object({ server_id: ServerId }, { additionalProperties: false }),
    output: { server_id: Type.String(), power: PowerState },
    async run(context, args) {
      const serverId = args['server_id'] as string;
      await authorized(context, 'power.read', serverId);
      const { power } = await context.app.serverOperations.powerStatus(context.request, serverId);
      return { result: { server_id: serverId, power }, serverIds: [serverId] };
    },
  },
  {
    name: 'power_action',
    title: 'Power action',
    description: 'Power a server on, off (hard), soft (ACPI shutdown), cycle or reset. The tenant policy may hold an action for approval: the call then fails with APPROVAL_REQUIRED and an approval id; once a tenant admin approved it, call again with approval_id.',
    least: 'power.on',
    readOnly: false,
    destructive: true,
    input: Type.Object({ server_id: ServerId, action: PowerAction, approval_id: Type.Optional(Type.String({ maxLength: 64 })) }, { additionalProperties: false }),
    output: { server_id: Type.String(), power: PowerState, pending: Type.Optional(Type.Union([Type.Literal('on'), Type.Literal('off')])) },
    async run(context, args) {
      const { server_id: serverId, action, approval_id: approvalId } = args as { server_id: string; action: PowerAction; approval_id?: string };
      await authorized(context, powerPermission(action), serverId);
      if (context.policy.approvalPower.has(action)) {
        const call = { server_id: serverId, action };
        await spendOrRequestApproval(context.app.store, context.request.principal!, { tool: 'power_action', serverId, args: call, shownArgs: call }, approvalId);
      }
      const result = await context.app.serverOperations.powerAction(context.request, serverId, action);
      return { result: { server_id: serverId, power: result.power, ...(result.pending ? { pending: result.pending.target } : {}) }, serverIds: [serverId] };
    },
  },
  {
    name: 'set_boot',
    title: 'Set boot device',
    description: 'Set the boot device override (pxe, disk, cd, bios, none) for the next boot only or persistently; uefi chooses the boot mode (absent: unchanged).',
    least: 'boot.set',
    readOnly: false,
    destructive: false,
    input: Type.Object({ server_id: ServerId, device: BootDevice, persistent: Type.Optional(Type.Boolean()), uefi: Type.Optional(Type.Boolean()) }, { additionalProperties: false }),
    output: { server_id: Type.String(), device: BootDevice, persistent: Type.Boolean(), uefi: Type.Boolean(), warning: Type.Optional(Type.String()) },
    async run(context, args) {
      const { server_id: serverId, device, persistent, uefi } = args as { server_id: string; device: BootDevice; persistent?: boolean; uefi?: boolean };
      await authorized(context, 'boot.set', serverId);
      const result = await context.app.serverOperations.setBoot(context.request, serverId, { device, ...(persistent === undefined ? {} : { persistent }), ...(uefi === undefined ? {} : { uefi }) });
      return { result: { server_id: serverId, ...result }, serverIds: [serverId] };
    },
  },
  {
    name: 'read_sensors',
    title: 'Read sensors',
    description: 'Temperatures, fans, voltages and power readings from the BMC, with their status.',
    least: 'sensors.read',
    readOnly: true,
    destructive: false,
    input: Type.Object({ server_id: ServerId }, { additionalProperties: false }),
    output: { server_id: Type.String(), sensors: Type.Array(Sensor) },
    async run(context, args) {
      const serverId = args['server_id'] as string;
      await authorized(context, 'sensors.read', serverId);
      const { sensors } = await context.app.serverOperations.sensors(context.request, serverId);
      return { result: { server_id: serverId, sensors }, serverIds: [serverId] };
    },
  },
  {
    name: 'read_event_log',
    title: 'Read the event log',
    description: "The BMC's system event log (SEL), newest last; `limit` keeps the newest entries.",
    least: 'servers.read',
    readOnly: true,
    destructive: false,
    input: Type.Object({ server_id: ServerId, limit: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
    output: { server_id: Type.String(), entries: Type.Array(SelEntry) },
    async run(context, args) {
      const serverId = args['server_id'] as string;
      await authorized(context, 'servers.read', serverId);
      const { entries } = await context.app.serverOperations.eventLog(context.request, serverId);
      return { result: { server_id: serverId, entries: entries.slice(-((args['limit'] as number | undefined) ?? 200)) }, serverIds: [serverId] };
    },
  },
  {
    name: 'console_tail',
    title: 'Console tail',
    description: "The last lines of the server's serial console (SOL or serial) scrollback, read-only.",
    least: 'console.view',
    readOnly: true,
    destructive: false,
    input: Type.Object({ server_id: ServerId, lines: Type.Optional(Type.Integer({ minimum: 1, maximum: 1000 })) }, { additionalProperties: false }),
    output: { server_id: Type.String(), lines: Type.Array(Type.String()) },
    async run(context, args) {
      const serverId = args['server_id'] as string;
      await authorized(context, 'console.view', serverId);
      const bytes = await consoleExchange(context.app, context.request, serverId, { mode: 'view', quietMs: 400, maxMs: 15_000, maxBytes: 256 * 1024 });
      return { result: { server_id: serverId, lines: consoleLines(bytes, (args['lines'] as number | undefined) ?? 50) }, serverIds: [serverId] };
    },
  },
  {
    name: 'console_send',
    title: 'Send a console line',
    description:
      "Type one line (Enter is added) into the server's serial console and return what it printed within a moment. The tenant policy decides which lines are allowed. sent is true only when the line went out as the console's controller: someone else holding control is a CONFLICT (nothing is typed).",
    least: 'console.control',
    readOnly: false,
    destructive: true,
    input: Type.Object({ server_id: ServerId, line: Type.String({ maxLength: 4096 }) }, { additionalProperties: false }),
    output: { server_id: Type.String(), sent: Type.Boolean(), output: Type.Array(Type.String()) },
    async run(context, args) {
      const { server_id: serverId, line } = args as { server_id: string; line: string };
      // Joining a console someone has open with control needs console.takeover (step-up), as in the REST API; the
      // agent still gives control only when nobody else holds it, and consoleExchange refuses to type as a viewer.
      const others = context.app.streams.gateway.othersLiveOn(serverId, context.request.principal!.subject);
      await authorized(context, others ? 'console.takeover' : 'console.control', serverId);
      const refusal = consoleLineRefusal(context.policy, line);
      if (refusal !== undefined) throw new LightsoutError('POLICY_DENIED', refusal);
      const bytes = await consoleExchange(context.app, context.request, serverId, { mode: 'control', input: Buffer.from(`${line}\r`, 'utf8'), quietMs: 600, maxMs: 15_000, maxBytes: 64 * 1024 });
      return { result: { server_id: serverId, sent: true, output: consoleLines(bytes, 100) }, serverIds: [serverId] };
    },
  },
  {
    name: 'mount_media',
    title: 'Mount virtual media',
    description: "Mount an image as the virtual CD: an upload (by upload_id, or by sha256 of an image already on the relay), or an http(s) url the agent fetches (hosts the tenant's media URL policy allows; sha256 then is the hash it must have); boot: boot once from it.",
    least: 'media.mount',
    readOnly: false,
    destructive: true,
    input: Type.Object(
      {
        server_id: ServerId,
        upload_id: Type.Optional(Type.String({ maxLength: 64 })),
        sha256: Type.Optional(Type.String({ pattern: '^[0-9a-f]{64}$' })),
        url: Type.Optional(Type.String({ minLength: 8, maxLength: 2048 })),
        boot: Type.Optional(Type.Boolean()),
        replace: Type.Optional(Type.Boolean()),
      },
      { additionalProperties: false },
    ),
    output: { media: MediaState },
    async run(context, args) {
      const { server_id: serverId, upload_id: uploadId, sha256, url, boot, replace } = args as { server_id: string; upload_id?: string; sha256?: string; url?: string; boot?: boolean; replace?: boolean };
      await authorized(context, 'media.mount', serverId);
      const media = await context.app.mediaActions.mount(context.request, serverId, {
        ...(uploadId === undefined ? {} : { uploadId }),
        ...(sha256 === undefined ? {} : { sha256 }),
        ...(url === undefined ? {} : { url }),
        ...(boot === undefined ? {} : { boot }),
        ...(replace === undefined ? {} : { replace }),
      });
      return { result: { media }, serverIds: [serverId] };
    },
  },
  {
    name: 'eject_media',
    title: 'Eject virtual media',
    description: 'Eject the virtual CD.',
    least: 'media.eject',
    readOnly: false,
    destructive: false,
    input: Type.Object({ server_id: ServerId }, { additionalProperties: false }),
    output: { media: MediaState },
    async run(context, args) {
      const serverId = args['server_id'] as string;
      await authorized(context, 'media.eject', serverId);
      return { result: { media: await context.app.mediaActions.eject(context.request, serverId) }, serverIds: [serverId] };
    },
  },
  {
    name: 'bulk_action',
    title: 'Bulk action',
    description:
      'One operation (power, boot, media.eject, sensors.read) on every server a selector names (ids, labels, rack, datacenter, region, power), in your tenant and grants. dry_run lists the servers and acts on nothing. Waits up to wait_seconds for the per-server results; a job still running is read with bulk_status.',
    least: 'servers.read',
    readOnly: false,
    destructive: true,
    input: Type.Object(
      { selector: BulkSelector, operation: BulkOperation, dry_run: Type.Optional(Type.Boolean()), wait_seconds: Type.Optional(Type.Integer({ minimum: 0, maximum: 300 })), approval_id: Type.Optional(Type.String({ maxLength: 64 })) },
      { additionalProperties: false },
    ),
    output: BulkOutput,
    async run(context, args) {
      const { selector, operation, dry_run: dryRun, wait_seconds: waitSeconds, approval_id: approvalId } = args as { selector: BulkSelector; operation: BulkOperation; dry_run?: boolean; wait_seconds?: number; approval_id?: string };
      const { app, request } = context;
      // The service checks tenant, grants, role and step-up itself (one implementation for REST, MCP and RPC).
      const origin = { sourceIp: request.ip, correlationId: request.id };
      let runOn = selector;
      if (dryRun !== true && operation.kind === 'power' && context.policy.approvalPower.has(operation.action)) {
        // What the approver sees is what will run: the servers the selector names now, and only those.
        const approved = await approvedBulkSelector(context, selector, operation, approvalId);
        if (approved === undefined) return { result: { job_id: null, dry_run: false, total: 0 }, serverIds: [] };
        runOn = approved;
      }
      const accepted = await app.bulk.submit(request.principal!, { selector: runOn, operation, ...(dryRun === undefined ? {} : { dryRun }) }, origin);
      if (accepted.jobId !== null) await settledWithin(app.bulk.settled(accepted.jobId), (waitSeconds ?? 60) * 1000);
      return bulkAnswer(app, request, accepted);
    },
  },
  {
    name: 'bulk_status',
    title: 'Bulk job status',
    description: 'A bulk job you started: its state and the per-server results so far.',
    least: 'servers.read',
    readOnly: true,
    destructive: false,
    input: Type.Object({ job_id: Type.String({ maxLength: 64 }) }, { additionalProperties: false }),
    output: BulkOutput,
    async run({ app, request }, args) {
      return bulkAnswer(app, request, { jobId: args['job_id'] as string, dryRun: false, total: 0 });
    },
  },
];
