import { randomUUID } from 'node:crypto';
import {
  type BulkAccepted,
  type BulkEventMessage,
  type BulkOperation,
  BulkRequest,
  type BulkServerResult,
  type BulkTarget,
  type ControlOperation,
  LightsoutError,
  type OperationParams,
  type OperationResult,
  type PowerState,
} from '@lightsout/shared';
import { Value } from 'typebox/value';
import type { BmcOperationFairness } from '../agents/fairness.js';
import { type Permission, can, powerPermission, ruleOf } from '../access/permissions.js';
import { visibleServers } from '../access/scope.js';
import { type StepUpPolicy, stepUpRequired, stepUpShortfall } from '../access/step-up.js';
import type { AuditEvent } from '../audit/audit.js';
import type { RelayConfig } from '../config/schema.js';
import type { Principal } from '../identity/verifier.js';
import type { ConfirmOverrides, PowerConfirmations } from '../inventory/power-confirm.js';
import type { Store } from '../store/open.js';
import { BulkGate } from './gate.js';
import { BulkJob } from './job.js';
import { selectorMatches } from './selector.js';

/** What the bulk service needs from the relay; the plugin passes the real ones, tests their own. */
export interface BulkDependencies {
  store: Store;
  request<Op extends ControlOperation>(agentId: string, op: Op, params: OperationParams<Op>, timeoutMs?: number): Promise<OperationResult<Op>>;
  fairness: BmcOperationFairness;
  confirmations: PowerConfirmations;
  audit(event: AuditEvent): Promise<void>;
  stepUpPolicy(tenant: string): Promise<StepUpPolicy>;
  config: RelayConfig['bulk'];
  onError?: (serverId: string, error: unknown) => void;
  /** Each server's outcome (`ok` or its error code), for the per-tenant BMC operation metrics. */
  onResult?: (tenant: string, result: string) => void;
}

/** A `power.await` request's timeout beyond the watch's own deadline: the answer's way back. */
const WATCH_REQUEST_MARGIN_MS = 5000;

/** Where a call came from, for the audit log (REST takes it from the request; MCP and RPC from theirs). */
export interface BulkCallContext {
  sourceIp?: string | null;
  correlationId?: string | null;
}

/** A server-side operation other plugins provide (virtual media's eject); rejects with a LightsoutError. */
export type BulkOperationHandler = (serverId: string) => Promise<unknown>;

interface ResolvedServer extends BulkTarget {
  tenant: string;
}

export type BulkListener = (job: { id: string; tenant: string; subject: string }, message: BulkEventMessage) => void;

/**
 * The selector as the audit log keeps it: ids the caller named that did not
 * resolve (another tenant's, or none) are counted, not written down, so the
 * caller's tenant log never holds another tenant's server names.
 */
function auditedSelector(selector: BulkRequest['selector'], resolved: readonly string[]): Record<string, unknown> {
  if (selector.ids === undefined) return selector;
  const resolvedIds = new Set(resolved);
  const kept = selector.ids.filter((id) => resolvedIds.has(id));
  return { ...selector, ids: kept, unresolvedIds: selector.ids.length - kept.length };
}

/** The permission one server's operation needs: the same as the single-server route's. */
export function bulkPermission(operation: BulkOperation, dryRun = false): Permission {
  if (dryRun) return 'servers.read';
  switch (operation.kind) {
    case 'power':
      return powerPermission(operation.action);
    case 'boot':
      return 'boot.set';
    case 'media.eject':
      return 'media.eject';
    case 'sensors.read':
      return 'sensors.read';
  }
}

/**
 * Fleet-wide bulk jobs: the one implementation behind POST /v1/bulk, and
 * what MCP and RPC front ends call (`submit`, `get`), with the principal
 * they authenticated. The service itself checks the role, step-up and the
 * tenant and grant scope, so no front end can skip them:
 *
 *   submit ─▶ resolve (own tenant ∩ grants ∩ selector) ─▶ authorize
 *     ─▶ dry run: the list │ job: 202, then per server through the agent,
 *        bounded per agent (gate.ts) ─▶ a result each ─▶ finished, audited
 */
export class BulkService {
  private readonly jobs = new Map<string, BulkJob>();
  private readonly listeners = new Set<BulkListener>();
  private readonly handlers = new Map<string, BulkOperationHandler>();
  private readonly expiry = new Set<NodeJS.Timeout>();

  constructor(private readonly dependencies: BulkDependencies) {}

  /** Virtual media registers `media.eject` here; without it a media job fails per server with BMC_UNSUPPORTED. */
  registerHandler(kind: 'media.eject', handler: BulkOperationHandler): void {
    this.handlers.set(kind, handler);
  }

  subscribe(listener: BulkListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * The servers a selector names for this principal: only its own tenant's
   * (a provider admin's too: a bulk job never crosses tenants), only those
   * its grants include, sorted by id.
   */
  async resolve(principal: Principal, selector: BulkRequest['selector']): Promise<ResolvedServer[]> {
    let query = this.dependencies.store
      .selectFrom('servers')
      .select(['id', 'name', 'tenant_id', 'region', 'datacenter', 'rack', 'labels', 'agent_id', 'power'])
      .where('tenant_id', '=', principal.tenant)
      .orderBy('id');
    if (selector.ids !== undefined) query = query.where('id', 'in', selector.ids);
    const rows = await visibleServers(this.dependencies.store, principal, await query.execute());
    return rows
      .filter((row) => selectorMatches(selector, row))
      .map((row) => ({ id: row.id, name: row.name, tenant: row.tenant_id, agentId: row.agent_id, rack: row.rack, datacenter: row.datacenter, power: row.power === 'on' || row.power === 'off' ? row.power : 'unknown' }));
  }

  /**
   * Resolve and, unless a dry run, start the job. Throws VALIDATION_FAILED,
   * FORBIDDEN, STEP_UP_REQUIRED (details.maxAge and mfa for the challenge),
   * RATE_LIMITED (too many of the tenant's jobs running).
   */
  async submit(principal: Principal, input: unknown, context: BulkCallContext = {}): Promise<BulkAccepted> {
    if (!Value.Check(BulkRequest, input)) {
      const first = [...Value.Errors(BulkRequest, input)][0];
      throw new LightsoutError('VALIDATION_FAILED', `bulk request: ${first ? `${first.instancePath || '/'} ${first.message}` : 'invalid'}`);
    }
    const request = input;
    const dryRun = request.dryRun === true;
    const targets = await this.resolve(principal, request.selector);
    if (targets.length > this.dependencies.config.maxServers) {
      throw new LightsoutError('VALIDATION_FAILED', `the selector names ${targets.length} servers; one job acts on at most ${this.dependencies.config.maxServers}`, { hint: 'narrow the selector (rack, datacenter, labels) and run several jobs' });
    }
    await this.authorize(principal, request.operation, targets.length, dryRun, context);
    const servers: BulkTarget[] = targets.map(({ tenant: _tenant, ...target }) => target);
    if (dryRun) return { jobId: null, dryRun: true, total: targets.length, servers };

    const running = [...this.jobs.values()].filter((job) => job.tenant === principal.tenant && !job.finished).length;
    if (running >= this.dependencies.config.maxRunningJobsPerTenant) {
      throw new LightsoutError('RATE_LIMITED', `tenant ${principal.tenant} already has ${running} bulk jobs running`, { hint: 'wait for one to finish (GET /v1/bulk/{id})', details: { retryAfterSeconds: 5, scope: 'bulk-jobs' } });
    }
    const job = new BulkJob(randomUUID(), principal.tenant, principal.subject, request.operation, request.selector, targets.map((target) => target.id), (source, message) => this.emit(source, message));
    this.jobs.set(job.id, job);
    await this.audit(principal, context, {
      action: 'bulk.start',
      outcome: 'success',
      target: `bulk:${job.id}`,
      details: { operation: request.operation, selector: auditedSelector(request.selector, job.serverIds), total: targets.length, servers: job.serverIds },
    });
    void this.run(job, targets, principal, context);
    return { jobId: job.id, dryRun: false, total: targets.length };
  }

  /**
   * The refusals submit would give a real job of `count` servers (role,
   * step-up, the API token threshold), denials audited the same way: for a
   * front end that must refuse before it does anything else for the job (an
   * approval asked for or spent).
   */
  async authorizeRun(principal: Principal, operation: BulkOperation, count: number, context: BulkCallContext): Promise<void> {
    await this.authorize(principal, operation, count, false, context);
  }

  /** A job's view for its own caller; anyone else's (or an expired one) is NOT_FOUND. */
  get(principal: Principal, jobId: string): ReturnType<BulkJob['view']> {
    const job = this.jobs.get(jobId);
    if (job === undefined || job.tenant !== principal.tenant || job.subject !== principal.subject) throw new LightsoutError('NOT_FOUND', `no bulk job ${jobId}`);
    return job.view();
  }

  /** Resolves when the job has finished (tests, and front ends that answer only at the end). */
  async settled(jobId: string): Promise<void> {
    await this.jobs.get(jobId)?.settled();
  }

  stop(): void {
    for (const timer of this.expiry) clearTimeout(timer);
    this.expiry.clear();
  }

  private async authorize(principal: Principal, operation: BulkOperation, count: number, dryRun: boolean, context: BulkCallContext): Promise<void> {
    const permission = bulkPermission(operation, dryRun);
    if (!can(principal.role, permission)) {
      await this.audit(principal, context, { action: 'access.denied', outcome: 'denied', target: 'route:POST /v1/bulk', details: { permission, role: principal.role, kind: principal.kind ?? 'user' } });
      throw new LightsoutError('FORBIDDEN', `your role (${principal.role}) may not ${permission}`, { hint: 'ask a tenant or provider administrator for access' });
    }
    if (ruleOf(permission).stepUp !== true) return;
    const policy = await this.dependencies.stepUpPolicy(principal.tenant);
    const threshold = this.dependencies.config.stepUpAbove;
    // Over the threshold even an API token needs a person behind it: a leaked token must not power off a fleet.
    const shortfall =
      count > threshold && principal.kind === 'service-account'
        ? `an API token may not do this on more than ${threshold} servers (${count} selected): run it signed in as a person`
        : stepUpShortfall(principal, policy);
    if (shortfall === undefined) return;
    await this.audit(principal, context, { action: `step-up.${permission}`, outcome: 'denied', target: 'route:POST /v1/bulk', details: { reason: shortfall, servers: count, threshold } });
    throw stepUpRequired(policy, permission, shortfall);
  }

  private async run(job: BulkJob, targets: ResolvedServer[], principal: Principal, context: BulkCallContext): Promise<void> {
    const { config, fairness } = this.dependencies;
    const gate = new BulkGate({ tenant: job.tenant, perAgent: config.perAgentConcurrency, total: config.maxInFlight, fairness });
    await Promise.all(targets.map(async (target) => job.record(await this.runOne(gate, job.operation, target))));
    const failures = job.results.filter((result) => !result.ok);
    await this.audit(principal, context, {
      action: 'bulk.finish',
      outcome: failures.length === 0 ? 'success' : 'failure',
      target: `bulk:${job.id}`,
      details: { operation: job.operation, total: job.serverIds.length, succeeded: job.serverIds.length - failures.length, failed: failures.map((result) => ({ serverId: result.serverId, code: result.code ?? 'INTERNAL' })) },
    }).catch(() => undefined);
    const timer = setTimeout(() => {
      this.expiry.delete(timer);
      this.jobs.delete(job.id);
    }, config.keepFinishedSeconds * 1000);
    timer.unref();
    this.expiry.add(timer);
  }

  private async runOne(gate: BulkGate, operation: BulkOperation, target: ResolvedServer): Promise<BulkServerResult> {
    const started = performance.now();
    const seconds = () => Math.round((performance.now() - started) / 10) / 100;
    try {
      const data = await this.perform(gate, operation, target);
      this.dependencies.onResult?.(target.tenant, 'ok');
      return { serverId: target.id, ok: true, seconds: seconds(), ...(data === undefined ? {} : { data }) };
    } catch (error) {
      this.dependencies.onError?.(target.id, error);
      this.dependencies.onResult?.(target.tenant, error instanceof LightsoutError ? error.code : 'INTERNAL');
      if (error instanceof LightsoutError) return { serverId: target.id, ok: false, code: error.code, message: error.message, seconds: seconds() };
      return { serverId: target.id, ok: false, code: 'INTERNAL', message: 'the operation failed on the relay', seconds: seconds() };
    }
  }

  private async perform(gate: BulkGate, operation: BulkOperation, target: ResolvedServer): Promise<unknown> {
    const { request } = this.dependencies;
    const serverId = target.id;
    switch (operation.kind) {
      case 'sensors.read':
        return gate.run(target.agentId, false, () => request(target.agentId, 'sensors.list', { serverId }));
      case 'boot':
        return gate.run(target.agentId, false, () =>
          request(target.agentId, 'boot.set', { serverId, device: operation.device, persistent: operation.persistent ?? false, ...(operation.uefi === undefined ? {} : { uefi: operation.uefi }) }),
        );
      case 'media.eject': {
        const handler = this.handlers.get('media.eject');
        if (handler === undefined) throw new LightsoutError('BMC_UNSUPPORTED', 'virtual media is not enabled on this relay');
        return gate.run(target.agentId, false, () => handler(serverId));
      }
      case 'power':
        return this.power(gate, operation.action, target);
    }
  }

  /** Accepted by the BMC, then confirmed by reading it: ok only once the target state was seen. */
  private async power(gate: BulkGate, action: Extract<BulkOperation, { kind: 'power' }>['action'], target: ResolvedServer): Promise<unknown> {
    const { request, confirmations, config } = this.dependencies;
    const accepted = await gate.run(target.agentId, false, () => request(target.agentId, 'power.set', { serverId: target.id, action }));
    const before: PowerState = target.power === 'on' || target.power === 'off' ? target.power : accepted.power;
    const overrides: ConfirmOverrides = {
      intervals: config.confirmIntervalsMs,
      accepted: accepted.power,
      read: async (serverId) => (await gate.run(target.agentId, true, () => request(target.agentId, 'power.get', { serverId }))).power,
      // Outside the gate: between its reads the watch holds nothing, and each read takes a slot of the agent's own session pool.
      watch: async (serverId, plan) => {
        try {
          return await request(target.agentId, 'power.await', { serverId, target: plan.target, needsOff: plan.needsOff, intervalsMs: [...plan.intervals], deadlineMs: plan.deadlineMs }, plan.deadlineMs + WATCH_REQUEST_MARGIN_MS);
        } catch (error) {
          if (error instanceof LightsoutError && error.code === 'BMC_UNSUPPORTED') return undefined;
          throw error;
        }
      },
    };
    const outcome = await confirmations.start(target.id, action, before, Date.now(), overrides).settled;
    if (!outcome.confirmed) {
      throw new LightsoutError('POWER_UNCONFIRMED', `the BMC accepted ${action} but was not seen ${outcome.target} within ${outcome.seconds} s`, { hint: 'read the power state again; retry if needed' });
    }
    return { power: outcome.target, confirmedAfterSeconds: outcome.seconds };
  }

  private emit(job: BulkJob, message: BulkEventMessage): void {
    for (const listener of this.listeners) listener({ id: job.id, tenant: job.tenant, subject: job.subject }, message);
  }

  private async audit(principal: Principal, context: BulkCallContext, event: Omit<AuditEvent, 'subject' | 'tenant' | 'sourceIp' | 'correlationId'>): Promise<void> {
    await this.dependencies.audit({ ...event, subject: principal.subject, tenant: principal.tenant, sourceIp: context.sourceIp ?? null, correlationId: context.correlationId ?? null });
  }
}
