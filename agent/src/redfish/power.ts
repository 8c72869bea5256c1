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
  cycle: ['PowerCycle', 'ForceRestart', 'GracefulRestart'],
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

export function powerStateOf(system: JsonObject): PowerState {
  switch (stringAt(system, 'PowerState')) {
    case 'On':
    case 'PoweringOn':
      return 'on';
    case 'Off':
    case 'PoweringOff':
      return 'off';
    default:
      return 'unknown';
  }
}

export async function resetSystem(client: RedfishClient, systemPath: string, action: PowerAction): Promise<string> {
  const system = (await client.get(systemPath)).body;
  const target = actionTarget(system, RESET_ACTION);
  if (!target) throw new LightsoutError('BMC_UNSUPPORTED', 'the system offers no ComputerSystem.Reset action');
  const resetType = chooseResetType(action, await allowableResetTypes(client, system));
  await client.request('POST', target, { body: { ResetType: resetType } });
  return resetType;
}
