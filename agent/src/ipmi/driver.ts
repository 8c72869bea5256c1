import { LightsoutError, type BmcLinkStatus, type BootOverride, type BootRequest, type BootResult, type PowerAction, type PowerResult, type SelList, type SensorList, type ServerIdentity } from '@lightsout/shared';
import type { BmcCredentials, BmcDriver } from '../drivers/types.js';
import { CredentialGate } from '../drivers/credential-gate.js';
import { bootResultOf } from '../drivers/boot-readback.js';
import type { FruInfo, PrivilegeName } from '@lightsout/bmc-wire/ipmi';
import { bootOverride, chassisControl, clearSel, deviceId, powerState, selEntries, sensorList, sensorNames, type IpmiRequester } from './commands.js';
import { SdrCache } from './sdr-cache.js';
import { identityOf } from './identity.js';
import { isFruDataProblem, readFru, systemFirmwareVersion } from './fru.js';
import { isQuirkName, QUIRK_ALIASES, quirkEnabled, type QuirkSettings } from './quirks.js';
import { openIpmiSession, type IpmiSession, type IpmiSessionOptions } from './session/connect.js';
import { completionCodeOfError, type SessionLogger, type SessionTiming } from './session/core.js';
import { defaultSessionPool, type SessionPool } from './pool.js';
import { setBootOverride } from './commands.js';
import { SolHub, type SolHubOptions } from './sol/sol-hub.js';
import { RmcpPlusSession } from './session/rmcp-plus-session.js';

export interface IpmiDriverOptions {
  host: string;
  port?: number;
  credentials: BmcCredentials;
  cipherSuite?: 'auto' | number;
  privilege?: 'user' | 'operator' | 'administrator';
  /** Quirk names from the table in quirks.ts (`name` enables, `!name` disables; FreeIPMI names accepted). */
  quirks?: readonly string[];
  protocol?: IpmiSessionOptions['protocol'];
  logger?: SessionLogger;
  pool?: SessionPool;
  timing?: Partial<SessionTiming>;
  /** Close the command session after this long without use (BMCs time sessions out at ~60 s). */
  idleCloseMs?: number;
  sol?: Omit<SolHubOptions, 'openSession'>;
  credentialGate?: CredentialGate;
}

export function parseQuirks(names: readonly string[] = []): QuirkSettings {
  const settings: QuirkSettings = {};
  for (const raw of names) {
    const enabled = !raw.startsWith('!');
    const bare = enabled ? raw : raw.slice(1);
    const name = QUIRK_ALIASES[bare] ?? bare;
    if (!isQuirkName(name)) throw new LightsoutError('CONFIG_INVALID', `unknown IPMI quirk "${raw}"`, { hint: 'see the quirk table in docs/ipmi.md' });
    settings[name] = enabled;
  }
  return settings;
}

/**
 * The IPMI BmcDriver: one lazily opened command session per BMC (reopened
 * after failures, closed when idle), bounded across BMCs by the pool, plus the
 * SOL hub that owns the BMC's single SOL payload.
 */
export class IpmiDriver implements BmcDriver {
  readonly protocol = 'ipmi' as const;
  private session: Promise<IpmiSession> | undefined;
  private idleTimer: ReturnType<typeof setTimeout> | undefined;
  private closed = false;
  private readonly sessionOptions: IpmiSessionOptions;
  private solHub: SolHub | undefined;
  private negotiatedValue: IpmiNegotiated | undefined;
  /** The BMC's SDR repository, walked again only when it changed (sensor reads, SEL sensor names). */
  private readonly sdr = new SdrCache();

  constructor(private readonly options: IpmiDriverOptions) {
    this.credentialGate = options.credentialGate ?? new CredentialGate();
    const suites = options.cipherSuite === undefined || options.cipherSuite === 'auto' ? undefined : [options.cipherSuite];
    this.sessionOptions = {
      host: options.host,
      port: options.port ?? 623,
      username: options.credentials.username,
      password: options.credentials.password,
      privilege: (options.privilege ?? 'administrator') as PrivilegeName,
      quirks: parseQuirks(options.quirks),
      ...(suites ? { cipherSuites: suites } : {}),
      ...(options.protocol ? { protocol: options.protocol } : {}),
      ...(options.logger ? { logger: options.logger } : {}),
      ...(options.timing ? { timing: options.timing } : {}),
    };
  }

  /** Held off logins after the BMC rejected the credentials (command and SOL sessions alike). */
  readonly credentialGate: CredentialGate;

  /** What the last login negotiated (protocol and cipher suite); undefined before the first one. */
  get negotiated(): IpmiNegotiated | undefined {
    return this.negotiatedValue;
  }

  /** Options to open further sessions to the same BMC (the SOL hub opens its own). */
  get connection(): IpmiSessionOptions {
    return this.sessionOptions;
  }

  async powerGet(): Promise<PowerResult> {
    return { power: await this.withSession(powerState, true) };
  }

  async powerSet(action: PowerAction): Promise<PowerResult> {
    await this.withSession((session) => chassisControl(session, action), false);
    // The chassis answers before it acts; report what it says now, callers poll for the final state.
    return { power: await this.withSession(powerState, true) };
  }

  bootGet(): Promise<BootOverride> {
    return this.withSession(bootOverride, true);
  }

  async bootSet(override: BootRequest): Promise<BootResult> {
    await this.withSession((session) => setBootOverride(session, override), true);
    return bootResultOf(override, await this.withSession(bootOverride, true));
  }

  async sensors(): Promise<SensorList> {
    return { sensors: await this.withSession(async (session) => sensorList(session, await this.sdr.records(session)), true) };
  }

  /**
   * Get Device ID, then the BMC's FRU device 0 and the system firmware version. A BMC without FRU or system info
   * (it answers a completion code) or with damaged FRU data still has an identity from Get Device ID: those are
   * warnings. Only session and transport failures fail the call.
   */
  identity(): Promise<ServerIdentity> {
    return this.withSession(async (session) => {
      const device = await deviceId(session);
      const fru = await this.fruIfAny(session);
      const bios = await systemFirmwareVersion(session, (error) => this.warn(error, 'BMC refused the system firmware version; identity has no BIOS version'));
      return identityOf(device, fru, bios);
    }, true);
  }

  private async fruIfAny(session: IpmiRequester): Promise<FruInfo | undefined> {
    try {
      const { info, failures } = await readFru(session);
      for (const failure of failures) this.warn(failure.error, `BMC FRU ${failure.area} area unreadable; identity uses the other areas`);
      return info;
    } catch (error) {
      if (!isFruDataProblem(error)) throw error;
      this.warn(error, 'BMC has no readable FRU; identity comes from Get Device ID alone');
      return undefined;
    }
  }

  private warn(error: LightsoutError, message: string): void {
    this.options.logger?.warn?.({ code: error.code, completionCode: completionCodeOfError(error), reason: error.details?.['reason'], detail: error.message }, message);
  }

  async sel(): Promise<SelList> {
    return { entries: await this.withSession(async (session) => selEntries(session, await this.sensorNamesIfAny(session)), true) };
  }

  /**
   * Sensor names for SEL entries, from the SDR when the BMC has one. A BMC may keep a SEL without an SDR
   * repository (it answers the SDR commands with a completion code): its entries are then named by
   * sensor type and number, and the refusal is a warning, never the end of the SEL read.
   */
  private async sensorNamesIfAny(session: IpmiRequester): Promise<ReadonlyMap<number, string> | undefined> {
    try {
      return sensorNames(await this.sdr.records(session));
    } catch (error) {
      const completionCode = completionCodeOfError(error);
      if (completionCode === undefined) throw error;
      this.options.logger?.warn?.({ completionCode, reason: error instanceof Error ? error.message : String(error) }, 'BMC has no readable SDR repository; SEL sensors are named by type and number');
      return undefined;
    }
  }

  async selClear(): Promise<void> {
    await this.withSession(clearSel, true);
  }

  /** The BMC's SOL hub (one SOL payload, many viewers). */
  sol(): SolHub {
    if (this.closed) throw new LightsoutError('BMC_UNREACHABLE', 'driver closed');
    const auxiliary = quirkEnabled(this.sessionOptions.quirks, 'activatePayloadAux') ? 0x08 : undefined;
    const ignorePort = quirkEnabled(this.sessionOptions.quirks, 'ignoreSolPort');
    this.solHub ??= new SolHub({ ...(auxiliary === undefined ? {} : { auxiliary }), ...(ignorePort ? { ignorePort } : {}), ...(this.options.logger ? { logger: this.options.logger } : {}), ...this.options.sol, openSession: () => this.login({ ...this.sessionOptions, protocol: 'lanplus' }) });
    return this.solHub;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearTimeout(this.idleTimer);
    await Promise.all([this.dropSession(), this.solHub?.close()]);
  }

  private async withSession<T>(operation: (session: IpmiRequester) => Promise<T>, retryable: boolean): Promise<T> {
    if (this.closed) throw new LightsoutError('BMC_UNREACHABLE', 'driver closed');
    return (this.options.pool ?? defaultSessionPool).run(async () => {
      for (let attempt = 0; ; attempt++) {
        const session = await this.currentSession();
        try {
          const result = await operation(session);
          this.armIdleClose();
          return result;
        } catch (error) {
          const sessionDied = session.state === 'failed';
          if (sessionDied) await this.dropSession();
          // A dead session (BMC rebooted, session timed out) is reopened once, for operations safe to repeat.
          if (!sessionDied || !retryable || attempt > 0) throw error;
        }
      }
    });
  }

  private currentSession(): Promise<IpmiSession> {
    // An operation that waited for the pool, or retries a dead session, may get here after close(): no new login then.
    if (this.closed) return Promise.reject(new LightsoutError('BMC_UNREACHABLE', 'driver closed'));
    if (this.session === undefined) {
      const opening = this.login(this.sessionOptions);
      this.session = opening;
      opening.catch(() => {
        if (this.session === opening) this.session = undefined;
      });
    }
    return this.session;
  }

  linkStatus(): BmcLinkStatus {
    const rejection = this.credentialGate.rejection;
    const negotiated = this.negotiatedValue;
    return {
      ...(rejection === undefined ? {} : { credentials: 'rejected' as const, retryAt: new Date(rejection.retryAt).toISOString() }),
      ...(negotiated === undefined ? {} : { protocol: negotiated.protocol, ...(negotiated.cipherSuite === null ? {} : { cipherSuite: negotiated.cipherSuite }) }),
    };
  }

  retryCredentials(): void {
    this.credentialGate.retryNow();
  }

  /** Every login of this driver (command session, SOL) goes through the credential gate. */
  private async login(options: IpmiSessionOptions): Promise<IpmiSession> {
    const session = await this.credentialGate.login(() => openIpmiSession(options));
    this.negotiatedValue = negotiatedOf(session);
    return session;
  }

  private armIdleClose(): void {
    clearTimeout(this.idleTimer);
    if (this.closed) return;
    this.idleTimer = setTimeout(() => void this.dropSession(), this.options.idleCloseMs ?? 20_000);
    this.idleTimer.unref();
  }

  private async dropSession(): Promise<void> {
    const current = this.session;
    this.session = undefined;
    if (current === undefined) return;
    try {
      await (await current).close();
    } catch {
      // It never opened; nothing to release.
    }
  }
}

/** What a login settled with the BMC, as the server's details show it. */
export interface IpmiNegotiated {
  protocol: 'ipmi-v2.0' | 'ipmi-v1.5';
  /** RMCP+ cipher suite; null on v1.5. */
  cipherSuite: number | null;
}

function negotiatedOf(session: IpmiSession): IpmiNegotiated {
  return session instanceof RmcpPlusSession ? { protocol: 'ipmi-v2.0', cipherSuite: session.suite?.id ?? null } : { protocol: 'ipmi-v1.5', cipherSuite: null };
}

export function createIpmiDriver(options: IpmiDriverOptions): IpmiDriver {
  return new IpmiDriver(options);
}
