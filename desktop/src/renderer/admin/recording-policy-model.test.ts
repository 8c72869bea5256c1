import { describe, expect, it } from 'vitest';
import { type RecordingPolicyDraft, recordingDraftOf, recordingRulesOf, retentionText } from './recording-policy-model.js';

const draft = (change: Partial<RecordingPolicyDraft>): RecordingPolicyDraft => ({ ...recordingDraftOf({}), ...change });

describe('recording policy form', () => {
  it('shows stored rules as choices, and a tenant without rules as all defaults', () => {
    expect(recordingDraftOf({})).toEqual({ kinds: { sol: 'default', serial: 'default', vnc: 'default' }, retention: 'default', days: '' });
    expect(recordingDraftOf({ sol: false, vnc: true, retentionDays: 30 })).toEqual({ kinds: { sol: 'off', serial: 'default', vnc: 'on' }, retention: 'days', days: '30' });
    expect(recordingDraftOf({ retentionDays: null }).retention).toBe('forever');
  });

  it('sends only what departs from the defaults, and round-trips what it showed', () => {
    expect(recordingRulesOf(recordingDraftOf({}))).toEqual({ rules: {} });
    for (const rules of [{ sol: false, vnc: true, retentionDays: 30 }, { serial: true, retentionDays: null }, { vnc: false }]) expect(recordingRulesOf(recordingDraftOf(rules))).toEqual({ rules });
    expect(recordingRulesOf(draft({ retention: 'days', days: ' 90 ' }))).toEqual({ rules: { retentionDays: 90 } });
    // Days typed, then "kept until deleted" chosen: the days are not sent.
    expect(recordingRulesOf(draft({ retention: 'forever', days: '7' }))).toEqual({ rules: { retentionDays: null } });
  });

  it.each([['0'], ['36501'], ['1.5'], ['-3'], ['thirty'], ['']])('refuses a retention of %j days before sending', (days) => {
    expect(recordingRulesOf(draft({ retention: 'days', days }))).toEqual({ error: 'retention: a whole number of days from 1 to 36,500' });
  });

  it('accepts the bounds', () => {
    expect(recordingRulesOf(draft({ retention: 'days', days: '1' }))).toEqual({ rules: { retentionDays: 1 } });
    expect(recordingRulesOf(draft({ retention: 'days', days: '36500' }))).toEqual({ rules: { retentionDays: 36_500 } });
  });

  it('says the retention in words', () => {
    expect([retentionText(null), retentionText(1), retentionText(90)]).toEqual(['kept until deleted', 'deleted 1 day after they last grew', 'deleted 90 days after they last grew']);
  });
});
