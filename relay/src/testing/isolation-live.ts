import { StreamCloseCode } from '@lightsout/shared';
import { createUser } from '../identity/accounts.js';
import { type RunningRelay, loginWithPassword } from './index.js';
import { type LiveConsole, type LiveFeed, type LiveUpload, openLiveConsole, openLiveFeed, resumeOutcome, startLiveUpload } from './live-connections.js';
import { ScriptedAgent } from './scripted-agent.js';
import { createApiToken } from '../access/api-tokens.js';

/**
 * Test-only, for the isolation matrix: every kind of revocation × every
 * connection that outlives a request. Each row opens a control console
 * (keeping its resume token), an event feed and an upload in progress as
 * one holder of tenant alpha, applies the change through the API, and
 * checks each connection ended as docs/security.md "What ends what" says,
 * within a second of the change's answer.
 */
const PASSWORD = 'isolation-live-password';
const WITHIN_MS = 1000;

/** Waits this long at most for an end that should come within WITHIN_MS, so a failure reports instead of hanging. */
const GIVE_UP_MS = 5000;

/** The promise's value, or undefined if it did not settle within GIVE_UP_MS. */
async function bounded<T>(promise: Promise<T>): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const gaveUp = new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), GIVE_UP_MS)));
  try {
    return await Promise.race([promise, gaveUp]);
  } finally {
    clearTimeout(timer);
  }
}

type FeedOutcome = 'closed' | 'snapshot-without-server' | 'snapshot' | 'server-removed';

interface Row {
  change: string;
  holder: 'user' | 'api-token';
  /** What a reconnect with the console's resume token gets. */
  resume: number;
  feed: FeedOutcome;
  /** Whether the upload in progress is refused (a tenant move does not touch uploads). */
  upload: 'refused' | 'not-affected';
  apply(context: { call: Call; userId: string; tokenId: string; serverId: string }): Promise<unknown>;
}

type Call = (method: string, path: string, body?: unknown) => Promise<void>;

const ROWS: Row[] = [
  { change: 'user disabled', holder: 'user', resume: 403, feed: 'closed', upload: 'refused', apply: ({ call, userId }) => call('PATCH', `/v1/users/${userId}`, { disabled: true }) },
  { change: 'password changed', holder: 'user', resume: 403, feed: 'closed', upload: 'refused', apply: ({ call, userId }) => call('PATCH', `/v1/users/${userId}`, { password: 'a-changed-isolation-password' }) },
  { change: 'role changed', holder: 'user', resume: 403, feed: 'snapshot', upload: 'refused', apply: ({ call, userId }) => call('PATCH', `/v1/users/${userId}`, { role: 'viewer' }) },
  {
    change: 'grants narrowed',
    holder: 'user',
    resume: 403,
    feed: 'snapshot-without-server',
    upload: 'refused',
    apply: ({ call, userId }) => call('POST', '/v1/grants', { userId, selector: { kind: 'servers', ids: ['live-keep'] } }),
  },
  { change: 'API token revoked', holder: 'api-token', resume: 403, feed: 'closed', upload: 'refused', apply: ({ call, tokenId }) => call('POST', `/v1/tokens/${tokenId}/revoke`) },
  { change: 'server moved to another tenant', holder: 'user', resume: 404, feed: 'server-removed', upload: 'not-affected', apply: ({ call, serverId }) => call('PUT', `/v1/servers/${serverId}/tenant`, { tenant: 'bravo' }) },
];

/** Runs every row; returns the failures (empty when all held) and one timing line per row. */
export async function checkLiveRevocations(relay: RunningRelay): Promise<{ failures: string[]; timings: string[] }> {
  const admin = (await loginWithPassword(relay.url, 'admin', relay.credentials.admin.password)).accessToken;
  const call: Call = async (method, path, body) => {
    const response = await fetch(`${relay.url}${path}`, { method, headers: { authorization: `Bearer ${admin}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) }, ...(body === undefined ? {} : { body: JSON.stringify(body) }) });
    if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${await response.text()}`);
  };
  const serverIds = ROWS.map((_row, index) => `live-${index}`);
  const registration = (id: string) => ({ id, name: id, tenant: 'alpha', rack: 'live', endpoints: { ipmi: '127.0.0.1:623' }, capabilities: ['power', 'sol'] as never[] });
  const agent = await ScriptedAgent.start(relay.url, admin, [...serverIds, 'live-keep'].map(registration));
  const failures: string[] = [];
  const timings: string[] = [];
  try {
    for (const [index, row] of ROWS.entries()) {
      const serverId = serverIds[index]!;
      const user = await createUser(relay.app.store, { tenant: 'alpha', username: `live-holder-${index}`, password: PASSWORD, role: 'operator' });
      const apiToken = await createApiToken(relay.app.store, { tenant: 'alpha', name: `live-holder-${index}`, role: 'operator', ttlSeconds: 3600, createdBy: 'isolation-live' });
      const token = row.holder === 'user' ? (await loginWithPassword(relay.url, `live-holder-${index}`, PASSWORD)).accessToken : apiToken.token;
      const leg: LiveConsole = await openLiveConsole(relay, token, serverId);
      const feed: LiveFeed = await openLiveFeed(relay, token);
      const upload: LiveUpload | undefined = row.upload === 'refused' ? await startLiveUpload(relay, token) : undefined;
      const fail = (what: string) => failures.push(`${row.change}: ${what}`);

      await row.apply({ call, userId: user.id, tokenId: apiToken.row.id, serverId });
      const answered = Date.now();
      const late = (at: number) => at - answered > WITHIN_MS;

      const consoleEnd = (await bounded(leg.closed)) ?? { code: 0, at: Number.POSITIVE_INFINITY };
      if (consoleEnd.code !== StreamCloseCode.FORBIDDEN) fail(`console leg closed ${consoleEnd.code || `not within ${GIVE_UP_MS} ms`}, expected ${StreamCloseCode.FORBIDDEN}`);
      if (late(consoleEnd.at)) fail(`console leg closed ${consoleEnd.at - answered} ms after the change`);
      leg.client.terminate();
      let feedAt: number;
      if (row.feed === 'closed') {
        const feedEnd = (await bounded(feed.closed)) ?? { code: 0, at: Number.POSITIVE_INFINITY };
        if (feedEnd.code !== StreamCloseCode.FORBIDDEN) fail(`event feed closed ${feedEnd.code || `not within ${GIVE_UP_MS} ms`}, expected ${StreamCloseCode.FORBIDDEN}`);
        feedAt = feedEnd.at;
        feed.socket.terminate();
      } else {
        const expected = await feed
          // Waited for as long as the other ends (a late message is reported as late, below, not as missing).
          .next((message) => (row.feed === 'server-removed' ? message.type === 'server-removed' && message.id === serverId : message.type === 'servers'), GIVE_UP_MS)
          .catch(() => undefined);
        if (!expected) fail(`event feed: no ${row.feed} message within ${GIVE_UP_MS} ms`);
        else if (row.feed === 'snapshot-without-server' && expected.type === 'servers' && expected.servers.some((server) => server.id === serverId)) fail('event feed: the new snapshot still has the server');
        feedAt = expected?.at ?? Number.POSITIVE_INFINITY;
        feed.socket.close();
      }
      if (late(feedAt)) fail(`event feed ended or narrowed ${feedAt - answered} ms after the change`);
      let uploadLine = 'upload not affected';
      if (upload) {
        const answer = (await bounded(upload.answered)) ?? { status: 0, at: Number.POSITIVE_INFINITY };
        upload.abandon();
        if (answer.status !== 403) fail(`upload in progress answered ${answer.status || `nothing within ${GIVE_UP_MS} ms`}, expected 403`);
        if (late(answer.at)) fail(`upload in progress refused ${answer.at - answered} ms after the change`);
        uploadLine = `upload refused ${answer.at - answered} ms`;
      }
      const resume = await resumeOutcome(leg);
      if (resume !== row.resume) fail(`resume token: ${resume}, expected ${row.resume}`);
      timings.push(`${row.change}: console ${consoleEnd.at - answered} ms, feed ${feedAt - answered} ms, ${uploadLine}, resume ${resume}`);
    }
  } finally {
    await agent.stop();
  }
  return { failures, timings };
}
