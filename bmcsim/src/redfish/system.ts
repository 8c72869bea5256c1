import type { BmcConfig } from '../bmc/config.js';
import type { Clock } from '../host/clock.js';
import type { BootDevice, Host } from '../host/host.js';
import { RESET_TYPES, type ResetType } from './documents.js';
import { badRequest } from './errors.js';

/**
 * The ComputerSystem's two mutations: PATCH of Boot (BootSourceOverride*)
 * and the ComputerSystem.Reset action, with the version its ETag carries and
 * the delayed resets the `resetDelay*` fault knobs ask for.
 */
export class SystemResource {
  /** Bumped on every change the ETag must reflect (DSP0266 §13.2 If-Match). */
  private version = 1;
  /** Fault `resetDelay*`: a reset accepted but not yet done, and the draws that time them. */
  private pendingReset: { cancel(): void } | undefined;
  private resetDraws = 0;

  constructor(
    private readonly config: BmcConfig,
    private readonly host: Host,
    private readonly clock: Clock,
    private readonly bootTargets: Readonly<Record<string, BootDevice>>,
  ) {}

  etag(): string {
    return `W/"${this.version}-${this.host.powerState}"`;
  }

  patch(body: unknown): void {
    const boot = (body as { Boot?: Record<string, unknown> } | undefined)?.Boot;
    if (!boot || typeof boot !== 'object') throw badRequest('PropertyMissing', 'Only Boot can be changed on this system.');
    const current = this.host.bootOverride;
    let device = current.device;
    let persistent = current.persistent;
    let uefi = current.uefi;
    if (boot.BootSourceOverrideTarget !== undefined) {
      const target = String(boot.BootSourceOverrideTarget);
      if (!(target in this.bootTargets)) throw badRequest('PropertyValueNotInList', `The value '${target}' for BootSourceOverrideTarget is not in the list of acceptable values.`);
      device = this.bootTargets[target]!;
    }
    if (boot.BootSourceOverrideEnabled !== undefined) {
      const enabled = String(boot.BootSourceOverrideEnabled);
      if (!['Once', 'Continuous', 'Disabled'].includes(enabled)) throw badRequest('PropertyValueNotInList', `The value '${enabled}' for BootSourceOverrideEnabled is not in the list of acceptable values.`);
      if (enabled === 'Disabled') device = 'none';
      // fault ignoresBootOnce: "Once" is stored as "Continuous", as one emulator does
      persistent = enabled === 'Continuous' || (enabled === 'Once' && this.config.faults.ignoresBootOnce);
    }
    if (boot.BootSourceOverrideMode !== undefined) {
      const mode = String(boot.BootSourceOverrideMode);
      if (mode !== 'UEFI' && mode !== 'Legacy') throw badRequest('PropertyValueNotInList', `The value '${mode}' for BootSourceOverrideMode is not in the list of acceptable values.`);
      uefi = mode === 'UEFI';
    }
    this.host.setBootOverride({ device, persistent, uefi });
    this.version++;
  }

  reset(body: unknown): void {
    const resetType = (body as { ResetType?: unknown } | undefined)?.ResetType;
    if (typeof resetType !== 'string') throw badRequest('ActionParameterMissing', 'The action ComputerSystem.Reset requires the parameter ResetType.');
    if (!(RESET_TYPES as readonly string[]).includes(resetType)) {
      throw badRequest('ActionParameterValueNotInList', `The value '${resetType}' for ResetType is not in the list of acceptable values.`);
    }
    const { resetDelayMinMs, resetDelayMaxMs } = this.config.faults;
    if (resetDelayMaxMs <= 0) return this.apply(resetType as ResetType);
    // 204 now, the power change later; a newer reset replaces one still waiting
    this.pendingReset?.cancel();
    const delay = resetDelayMinMs + Math.floor(seededFraction(this.config.seed, this.resetDraws++) * Math.max(0, resetDelayMaxMs - resetDelayMinMs));
    this.pendingReset = this.clock.setTimeout(() => {
      this.pendingReset = undefined;
      this.apply(resetType as ResetType);
    }, delay);
  }

  private apply(resetType: ResetType): void {
    const host = this.host;
    switch (resetType) {
      case 'On':
      case 'ForceOn':
        host.powerOn();
        break;
      case 'ForceOff':
        host.powerOff();
        break;
      case 'GracefulShutdown':
        host.softOff();
        break;
      case 'GracefulRestart':
      case 'ForceRestart':
        host.reset();
        break;
      case 'PowerCycle':
        host.powerCycle();
        break;
      case 'PushPowerButton':
        if (host.poweredOn) host.softOff();
        else host.powerOn();
        break;
      case 'Nmi':
        break;
    }
    this.version++;
  }
}

/** Deterministic fraction in [0, 1) from the BMC's seed and a draw counter (mulberry32). */
function seededFraction(seed: number, draw: number): number {
  let state = (seed * 0x9e3779b1 + draw * 0x85ebca6b) >>> 0;
  state = (state + 0x6d2b79f5) >>> 0;
  let mixed = Math.imul(state ^ (state >>> 15), state | 1);
  mixed ^= mixed + Math.imul(mixed ^ (mixed >>> 7), mixed | 61);
  return ((mixed ^ (mixed >>> 14)) >>> 0) / 4294967296;
}
