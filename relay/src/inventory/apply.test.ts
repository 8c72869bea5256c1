import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { ServerRegistration } from '@lightsout/shared';
import { afterAll, describe, expect, it } from 'vitest';
import { postgresForThisFile } from '../testing/dialects.js';
import { type Store, openStore } from '../store/open.js';
import { applyInventory, applyStates } from './apply.js';

/**
 * What an agent's reconnection costs the store: it re-sends its whole
 * inventory and one state per server every time (a gateway failover moves
 * every agent of the gateway at once). Unchanged servers are not rewritten
 * and alike states share a statement; what the rows end up holding is what
 * one write per message gave.
 */
const directory = mkdtempSync(join(tmpdir(), 'lightsout-apply-'));
const postgres = postgresForThisFile();
afterAll(() => rmSync(directory, { recursive: true, force: true }));

const placement = { id: 'agent-a', region: 'eu', datacenter: 'fra1', tenants: ['demo'] };
const fleet = (count: number, rack = 'r1'): ServerRegistration[] =>
  Array.from({ length: count }, (_, index) => ({ id: `srv-${index}`, name: `srv-${index}`, tenant: 'demo', rack, endpoints: { ipmi: `10.0.${index >> 8}.${index & 255}:623` }, capabilities: ['power', 'sol'] }));

/** Every statement the store runs, by its first word. */
function counting(store: Store): { store: Store; statements: () => Record<string, number>; reset(): void } {
  let counts: Record<string, number> = {};
  const counted = store.withPlugin({
    transformQuery: (args) => {
      const kind = args.node.kind.replace(/QueryNode$/, '').toLowerCase();
      counts[kind] = (counts[kind] ?? 0) + 1;
      return args.node;
    },
    transformResult: async (args) => args.result,
  });
  return { store: counted, statements: () => counts, reset: () => (counts = {}) };
}

describe.each(['sqlite', 'postgres'] as const)('an agent reconnecting with 300 servers (%s)', (driver) => {
  it('writes no server row when its inventory did not change, and its 300 states in one statement per distinct state', async () => {
    const store = await openStore(driver === 'postgres' ? { dataDir: directory, store: { driver, sqliteFile: 'unused', postgresUrl: postgres().url } } : { dataDir: directory, store: { driver, sqliteFile: 'apply.sqlite' } });
    try {
      await store.insertInto('tenants').values({ id: 'demo', name: 'Demo', created_at: 1 }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
      for (const id of ['agent-a', 'agent-b']) {
        await store.insertInto('agents').values({ id, name: id, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1 }).execute();
      }
      await store.insertInto('servers').values({ id: 'foreign', name: 'foreign', tenant_id: 'demo', region: 'eu', datacenter: 'fra1', rack: 'r9', labels: '{}', endpoints: '{}', capabilities: '[]', agent_id: 'agent-b', power: 'off', reachable: 1, state_at: 1, updated_at: 1 }).execute();
      const { store: counted, statements, reset } = counting(store);

      expect((await applyInventory(counted, placement, fleet(300))).accepted).toHaveLength(300);
      expect(statements()['insert']).toBe(300);
      reset();
      // The same inventory again (a reconnection): read, nothing written.
      expect((await applyInventory(counted, placement, fleet(300))).accepted).toHaveLength(300);
      expect(statements()['insert'] ?? 0).toBe(0);
      expect(statements()['delete'] ?? 0).toBe(0);
      // One server changed: that one row is written.
      reset();
      const changed = fleet(300);
      changed[7] = { ...changed[7]!, rack: 'r2' };
      await applyInventory(counted, placement, changed);
      expect(statements()['insert']).toBe(1);
      expect((await store.selectFrom('servers').select('rack').where('id', '=', 'srv-7').executeTakeFirstOrThrow()).rack).toBe('r2');

      reset();
      const states: Array<{ serverId: string; power: 'on' | 'off'; reachable: boolean }> = changed.map((server) => ({ serverId: server.id, power: 'on', reachable: true }));
      // A later state of the same server wins; a server of another agent is ignored, not written.
      states.push({ serverId: 'srv-3', power: 'off', reachable: false }, { serverId: 'foreign', power: 'on', reachable: true });
      const result = await applyStates(counted, 'agent-a', states);
      expect(result.updated).toHaveLength(300);
      expect(result.ignored).toEqual(['foreign']);
      // Two distinct states (on; off and unreachable), the foreign server in the "on" one: two statements.
      expect(statements()['update']).toBe(2);
      const rows = await store.selectFrom('servers').select(['id', 'power', 'reachable']).execute();
      const byId = new Map(rows.map((row) => [row.id, row]));
      expect(byId.get('srv-3')).toMatchObject({ power: 'off', reachable: 0 });
      expect(byId.get('srv-299')).toMatchObject({ power: 'on', reachable: 1 });
      expect(byId.get('foreign')).toMatchObject({ power: 'off' });
    } finally {
      await store.destroy();
    }
  });
});

describe('two agents registering one new server id at once (postgres: two replicas)', () => {
  it('the one whose row was written is told accepted; the other is refused CONFLICT, not told accepted without a write', async () => {
    const store = await openStore({ dataDir: directory, store: { driver: 'postgres', sqliteFile: 'unused', postgresUrl: postgres().url } });
    try {
      await store.insertInto('tenants').values({ id: 'demo', name: 'Demo', created_at: 1 }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
      for (const id of ['agent-first', 'agent-late']) {
        await store.insertInto('agents').values({ id, name: id, region: 'eu', datacenter: 'fra1', public_jwk: '{}', revoked: 0, version: null, connected_at: null, last_seen_at: null, created_at: 1 }).onConflict((conflict) => conflict.column('id').doNothing()).execute();
      }
      // The late agent's transaction reads the servers (none owns the id yet), then waits until the other registration committed.
      let otherCommitted!: () => void;
      const committed = new Promise<void>((resolve) => (otherCommitted = resolve));
      let readServers: string | undefined;
      let readDone!: () => void;
      const read = new Promise<void>((resolve) => (readDone = resolve));
      const paused = store.withPlugin({
        transformQuery: (args) => {
          const from = args.node.kind === 'SelectQueryNode' ? JSON.stringify(args.node.from) : '';
          if (readServers === undefined && from.includes('"servers"')) readServers = args.queryId.queryId;
          return args.node;
        },
        transformResult: async (args) => {
          if (args.queryId.queryId === readServers) {
            readDone();
            await committed;
          }
          return args.result;
        },
      });
      const server = fleet(1)[0]!;
      const late = applyInventory(paused, { ...placement, id: 'agent-late' }, [{ ...server, id: 'contested-1' }]);
      await read;
      expect((await applyInventory(store, { ...placement, id: 'agent-first' }, [{ ...server, id: 'contested-1' }])).accepted).toEqual(['contested-1']);
      otherCommitted();
      const answer = await late;
      expect(answer.accepted).toEqual([]);
      expect(answer.rejected).toMatchObject([{ serverId: 'contested-1', error: { code: 'CONFLICT' } }]);
      expect((await store.selectFrom('servers').select('agent_id').where('id', '=', 'contested-1').executeTakeFirstOrThrow()).agent_id).toBe('agent-first');
    } finally {
      await store.destroy();
    }
  });
});
