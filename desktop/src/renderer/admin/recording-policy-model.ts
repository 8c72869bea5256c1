import type { RecordingRules } from '@lightsout/shared';

/**
 * The recording policy form of Administration → Tenants, pure and testable.
 * Each console kind either follows the deployment's default or is set on or
 * off; the retention follows the default, keeps recordings until deleted, or
 * deletes them after a number of days (1–36,500, as the relay checks).
 */
export type RecordingChoice = 'default' | 'on' | 'off';
export type RetentionChoice = 'default' | 'forever' | 'days';
export const RECORDED_KINDS = ['sol', 'serial', 'vnc'] as const;
export type RecordedKind = (typeof RECORDED_KINDS)[number];
export const KIND_LABELS: Record<RecordedKind, string> = { sol: 'Serial over LAN', serial: 'Serial console', vnc: 'VNC (graphical console)' };

export interface RecordingPolicyDraft {
  kinds: Record<RecordedKind, RecordingChoice>;
  retention: RetentionChoice;
  /** As typed: checked by recordingRulesOf. */
  days: string;
}

export const MAX_RETENTION_DAYS = 36_500;

export function recordingDraftOf(rules: RecordingRules): RecordingPolicyDraft {
  const choice = (value: boolean | undefined): RecordingChoice => (value === undefined ? 'default' : value ? 'on' : 'off');
  const retention: RetentionChoice = !('retentionDays' in rules) || rules.retentionDays === undefined ? 'default' : rules.retentionDays === null ? 'forever' : 'days';
  return {
    kinds: { sol: choice(rules.sol), serial: choice(rules.serial), vnc: choice(rules.vnc) },
    retention,
    days: typeof rules.retentionDays === 'number' ? String(rules.retentionDays) : '',
  };
}

/** The rules to PUT, or what is wrong with the draft (said before anything is sent). */
export function recordingRulesOf(draft: RecordingPolicyDraft): { rules: RecordingRules } | { error: string } {
  const rules: RecordingRules = {};
  for (const kind of RECORDED_KINDS) if (draft.kinds[kind] !== 'default') rules[kind] = draft.kinds[kind] === 'on';
  if (draft.retention === 'forever') rules.retentionDays = null;
  if (draft.retention === 'days') {
    const text = draft.days.trim();
    const days = Number(text);
    if (!/^[0-9]+$/.test(text) || days < 1 || days > MAX_RETENTION_DAYS) return { error: `retention: a whole number of days from 1 to ${MAX_RETENTION_DAYS.toLocaleString('en')}` };
    rules.retentionDays = days;
  }
  return { rules };
}

/** The retention that applies, in words. */
export function retentionText(days: number | null): string {
  return days === null ? 'kept until deleted' : `deleted ${days} day${days === 1 ? '' : 's'} after they last grew`;
}
