import { describe, expect, it } from 'vitest';
import { actorLabel, adminSections, ago, assignableRoles, auditQuery, auditTime, describeSelector, EMPTY_AUDIT_SEARCH, errorText } from './admin-model.js';

describe('admin sections by role', () => {
  it('gives provider admins everything, tenant admins their tenant, and nobody else anything', () => {
    expect(adminSections('provider-admin')).toEqual(['users', 'tenants', 'agents', 'discovered', 'join-tokens', 'tokens', 'audit']);
    expect(adminSections('tenant-admin')).toEqual(['users', 'tenants', 'tokens', 'audit']);
    expect(adminSections('operator')).toEqual([]);
    expect(adminSections('viewer')).toEqual([]);
  });
  it('hands out roles up to one\'s own', () => {
    expect(assignableRoles('tenant-admin')).toEqual(['viewer', 'operator', 'tenant-admin']);
    expect(assignableRoles('provider-admin')).toContain('provider-admin');
    expect(assignableRoles('viewer')).toEqual(['viewer']);
  });
});

describe('grants in words', () => {
  it('names servers by name, racks and labels as such, and shortens long lists', () => {
    const names = new Map([['sim-01', 'web-01']]);
    expect(describeSelector({ kind: 'servers', ids: ['sim-01', 'sim-02'] }, (id) => names.get(id))).toBe('web-01, sim-02');
    expect(describeSelector({ kind: 'servers', ids: ['a', 'b', 'c', 'd', 'e'] })).toBe('a, b, c and 2 more');
    expect(describeSelector({ kind: 'rack', rack: 'r12' })).toBe('rack r12');
    expect(describeSelector({ kind: 'label', key: 'role', value: 'db' })).toBe('label role=db');
  });
});

describe('the audit search query', () => {
  it('is newest first, leaves blank fields out and pages back with before', () => {
    expect(auditQuery(EMPTY_AUDIT_SEARCH, { limit: 50 })).toEqual({ query: 'order=desc&limit=50' });
    const result = auditQuery({ ...EMPTY_AUDIT_SEARCH, user: ' admin ', action: 'Grant.Create', server: 'sim-01' }, { limit: 50, before: 120 });
    expect(new URLSearchParams((result as { query: string }).query).toString()).toBe('order=desc&limit=50&before=120&user=admin&server=sim-01&action=grant.create');
  });
  it('turns local date-times into epoch milliseconds, and refuses an unreadable or reversed range', () => {
    const since = '2026-03-01T08:30';
    const query = new URLSearchParams((auditQuery({ ...EMPTY_AUDIT_SEARCH, since }, { limit: 10 }) as { query: string }).query);
    expect(Number(query.get('since'))).toBe(new Date(2026, 2, 1, 8, 30).getTime());
    expect(auditQuery({ ...EMPTY_AUDIT_SEARCH, since: 'yesterday' }, { limit: 10 })).toEqual({ error: 'From: "yesterday" is not a date and time' });
    expect(auditQuery({ ...EMPTY_AUDIT_SEARCH, since: '2026-03-02T00:00', until: '2026-03-01T00:00' }, { limit: 10 })).toEqual({ error: 'From must be before To' });
  });
});

describe('times and names as a person reads them', () => {
  it('says how long ago', () => {
    const now = Date.parse('2026-03-01T12:00:00Z');
    expect(ago(null, now)).toBe('never');
    expect(ago('2026-03-01T11:59:50Z', now)).toBe('10 s ago');
    expect(ago('2026-03-01T11:55:00Z', now)).toBe('5 min ago');
    expect(ago('2026-03-01T09:00:00Z', now)).toBe('3 h ago');
    expect(ago('2026-02-27T12:00:00Z', now)).toBe('2 d ago');
  });
  it('shows audit times in local time with UTC alongside', () => {
    const epoch = new Date(2026, 0, 2, 3, 4, 5).getTime();
    expect(auditTime(epoch)).toEqual({ local: '2026-01-02 03:04:05', utc: new Date(epoch).toISOString() });
  });
  it('names the actor, falling back to the subject, then to the system', () => {
    expect(actorLabel({ actor: 'admin', subject: 'uuid' })).toBe('admin');
    expect(actorLabel({ actor: null, subject: 'external-sub' })).toBe('external-sub');
    expect(actorLabel({ subject: null })).toBe('system');
  });
  it('shows the relay\'s code with its message', () => {
    expect(errorText({ code: 'CONFLICT', message: 'tenant demo already has a user bob' })).toBe('CONFLICT: tenant demo already has a user bob');
    expect(errorText(new Error('boom'))).toBe('boom');
  });
});
