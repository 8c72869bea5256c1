import type { PowerAction } from '@lightsout/shared';
import type { ActionResult } from './ActionDialogs.js';

/** The one dialog the console shell shows on top at a time. */
export type Modal =
  | { kind: 'confirm-power'; serverIds: string[]; action: PowerAction }
  | { kind: 'boot'; serverIds: string[] }
  | { kind: 'results'; title: string; results: ActionResult[]; pending: number }
  | { kind: 'mount'; serverId: string; file: File }
  | { kind: 'mount-iso'; serverId: string }
  | { kind: 'help' }
  | { kind: 'ssh' };
