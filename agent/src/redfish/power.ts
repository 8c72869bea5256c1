import { setTimeout as delay } from 'node:timers/promises';
import { LightsoutError, type PowerAction, type PowerState } from '@lightsout/shared';
import type { RedfishClient } from './client.js';
import { type JsonObject, actionObject, actionTarget, arrayAt, isJsonObject, stringAt, stringsAt } from './json.js';

/**
 * ComputerSystem.Reset (DSP2046 ComputerSystem v1.x, ResetType). BMCs allow
 * different subsets, so each action lists the ResetTypes that achieve it, in
 * order of faithfulness; the first one the BMC allows wins.
 */
export const RESET_PREFERENCES: Record<PowerAction, readonly string[]> = {
  on: ['On', 'ForceOn', 'PushPowerButton'],
  off: ['ForceOff', 'GracefulShutdown', 'PushPowerButton'],
  soft: ['GracefulShutdown', 'PushPowerButton'],
  // Without PowerCycle a cycle is ForceOff, then On (resetSystem): a warm restart never removes power.
  cycle: ['PowerCycle'],
  reset: ['ForceRestart', 'GracefulRestart', 'PowerCycle'],
};

const RESET_ACTION = '#ComputerSystem.Reset';

/** `undefined` allowable means the BMC did not say: use the first preference. */
export function chooseResetType(action: PowerAction, allowable: readonly string[] | undefined): string {
  const preferences = RESET_PREFERENCES[action];
  if (!allowable) return preferences[0]!;
  const chosen = preferences.find((resetType) => allowable.includes(resetType));
  if (!chosen) {
    throw new LightsoutError('BMC_UNSUPPORTED', `the BMC allows no ResetType for "${action}"`, { details: { allowable, wanted: preferences } });
  }
  return chosen;
}

/** Inline `ResetType@Redfish.AllowableValues`, else the linked ActionInfo's Parameters (bmcweb ResetActionInfo). */
export async function allowableResetTypes(client: RedfishClient, system: JsonObject): Promise<string[] | undefined> {
  const action = actionObject(system, RESET_ACTION);
  const inline = stringsAt(action, 'ResetType@Redfish.AllowableValues');
  if (inline) return inline;
  const actionInfoPath = stringAt(action, '@Redfish.ActionInfo');
  if (!actionInfoPath?.startsWith('/')) return undefined;
  const actionInfo = (await client.get(actionInfoPath)).body;
  const parameter = arrayAt(actionInfo, 'Parameters').find((entry) => isJsonObject(entry) && entry.Name === 'ResetType');
  return isJsonObject(parameter) ? stringsAt(parameter, 'AllowableValues') : undefined;
}

/**
 * Whether power is applied, as IPMI's Get Chassis Status says it for the
 * same host. DSP2046 PowerState: PoweringOn and PoweringOff are the
 * transitions between; power is applied in both. PoweringOff lasts while
 * the OS shuts down (bmcweb reports it for the host's TransitioningToOff,
 * the whole of a graceful shutdown): read as off, a shutdown that stalls
 * would be confirmed off with the OS still running.
 */
export function powerStateOf(system: JsonObject): PowerState {
  switch (stringAt(system, 'PowerState')) {
    case 'On':
    case 'PoweringOn':
    case 'PoweringOff':
      return 'on';
    case 'Off':
      return 'off';
    default:
      return 'unknown';
  }
}

export interface ResetOutcome {
  /** What the BMC was asked: a ResetType, or `ForceOff+On` for a cycle made of two. */
  via: string;
  /** The cycle's off phase, seen by the driver itself (the relay then waits for on alone). */
  sawOff: boolean;
}

/**
 * How long a cycle made of ForceOff and On waits to see the power off: within
 * the relay's 15 s for the whole request (agents.requestTimeoutMs), so the On
 * is never sent after the relay has answered the user. A BMC reports a forced
 * off within seconds.
 */
const CYCLE_OFF_WAIT_MS = 10_000;
/** IPMI's chassis power cycle keeps power off at least 1 s (IPMI v2.0 §28.3); so does a cycle made of two resets. */
const CYCLE_OFF_INTERVAL_MS = 1_000;

export async function resetSystem(client: RedfishClient, systemPath: string, action: PowerAction): Promise<ResetOutcome> {
  const system = (await client.get(systemPath)).body;
  const target = actionTarget(system, RESET_ACTION);
  if (!target) throw new LightsoutError('BMC_UNSUPPORTED', 'the system offers no ComputerSystem.Reset action');
  const allowable = await allowableResetTypes(client, system);
  if (action === 'cycle' && allowable && !allowable.includes('PowerCycle')) return cycleInTwo(client, systemPath, target, system, allowable);
  const resetType = chooseResetType(action, allowable);
  if (resetType === 'PushPowerButton') {
    // A press toggles: it turns off a server that is already on. Pressed only when the power is seen
    // on the other side of the target (DMTF's Redfish-Tacklebox left it out of its choice for this reason).
    const now = powerStateOf(system);
    const wanted = action === 'on' ? 'on' : 'off';
    if (now === wanted) return { via: 'none (already there)', sawOff: false };
    if (now === 'unknown') {
      throw new LightsoutError('BMC_UNSUPPORTED', `the BMC offers only a power button press for "${action}", and does not say whether the power is on`, { details: { allowable } });
    }
  }
  await client.request('POST', target, { body: { ResetType: resetType } });
  return { via: resetType, sawOff: false };
}

/**
 * A power cycle where the BMC offers no PowerCycle (iLO 5 and 6 list On,
 * ForceOff, GracefulShutdown, ForceRestart, Nmi, PushPowerButton,
 * GracefulRestart): ForceOff, the power seen off, then On. ForceRestart is
 * a warm reset that never removes power: the relay, rightly, would never
 * see the off a cycle passes through.
 */
async function cycleInTwo(client: RedfishClient, systemPath: string, target: string, system: JsonObject, allowable: readonly string[]): Promise<ResetOutcome> {
  const on = RESET_PREFERENCES.on.find((resetType) => resetType !== 'PushPowerButton' && allowable.includes(resetType));
  if (!allowable.includes('ForceOff') || on === undefined) {
    throw new LightsoutError('BMC_UNSUPPORTED', 'the BMC can neither power cycle nor force the power off and on again', {
      details: { allowable },
      hint: 'Use "reset" for a warm restart, or "off" and then "on".',
    });
  }
  // A cycle of a server that is off powers it on (as IPMI's chassis control does on most BMCs).
  if (powerStateOf(system) === 'off') {
    await client.request('POST', target, { body: { ResetType: on } });
    return { via: on, sawOff: true };
  }
  await client.request('POST', target, { body: { ResetType: 'ForceOff' } });
  const deadline = Date.now() + CYCLE_OFF_WAIT_MS;
  for (let round = 0; powerStateOf((await client.get(systemPath)).body) !== 'off'; round += 1) {
    if (Date.now() >= deadline) {
      throw new LightsoutError('BMC_TIMEOUT', `the BMC accepted ForceOff for the power cycle but did not report the power off within ${CYCLE_OFF_WAIT_MS / 1000} s`, {
        hint: 'The server may be off now: check its power state, then power it on or cycle it again.',
      });
    }
    await delay(Math.min(250 * (round + 1), 1_000));
  }
  await delay(CYCLE_OFF_INTERVAL_MS);
  await client.request('POST', target, { body: { ResetType: on } });
  return { via: `ForceOff+${on}`, sawOff: true };
}
