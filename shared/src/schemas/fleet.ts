import Type, { type Static } from 'typebox';
import { Slug, type ServerView } from './server.js';

const Count = Type.Integer({ minimum: 0 });

/** One datacenter of the caller's fleet: its servers and the agents that reach them. */
export const FleetDatacenter = Type.Object({
  region: Slug,
  datacenter: Slug,
  servers: Count,
  agentsOnline: Count,
  agentsOffline: Count,
  /** Servers whose agent is offline: nothing reaches their BMCs now. */
  serversBehindOfflineAgents: Count,
});
export type FleetDatacenter = Static<typeof FleetDatacenter>;

/** A critical event from a server's system event log, as the fleet overview lists it. */
export const FleetEvent = Type.Object({
  serverId: Slug,
  serverName: Type.String(),
  /** ISO-8601, or null when the BMC's clock was not set. */
  time: Type.Union([Type.String(), Type.Null()]),
  sensor: Type.String(),
  event: Type.String(),
});
export type FleetEvent = Static<typeof FleetEvent>;

/**
 * `GET /v1/fleet/summary`: the counts of the fleet overview, computed by the
 * relay over the servers the caller may see (one answer, whatever the size
 * of the fleet, instead of the browser walking 10,000 servers). Each count
 * has a tree filter that lists exactly its servers (docs/desktop.md).
 */
export const FleetSummary = Type.Object({
  servers: Count,
  power: Type.Object({ on: Count, off: Count, unknown: Count, pending: Count }),
  datacenters: Type.Array(FleetDatacenter),
  bmc: Type.Object({
    /** The BMC refused the configured credentials (the agent holds off logging in). */
    credentialsRejected: Count,
    /** The agent's last attempt to reach the BMC failed for another reason. */
    unreachable: Count,
  }),
  consoles: Type.Object({ sessions: Count, servers: Count }),
  mounts: Count,
  /** ISO-8601 time the summary was computed. */
  at: Type.String(),
});
export type FleetSummary = Static<typeof FleetSummary>;

/**
 * What is wrong with the agent's link to a server's BMC, if anything: the
 * BMC rejected the credentials, or the last attempt to reach it failed.
 * The fleet summary counts with it and the tree filters (`bmc:rejected`,
 * `bmc:unreachable`) match with it, so a count and its filter agree.
 */
export function bmcTrouble(server: Pick<ServerView, 'bmc'>): 'rejected' | 'unreachable' | null {
  if (server.bmc?.credentials === 'rejected') return 'rejected';
  if (server.bmc?.error !== undefined) return 'unreachable';
  return null;
}

/**
 * `GET /v1/fleet/events`: the newest critical entries of the event logs of
 * the servers the caller may see, read through their agents (at most 20),
 * and how much of the fleet they cover — the relay reads a bounded number
 * of logs per request and keeps each for a minute (docs/desktop.md).
 */
export const FleetEvents = Type.Object({
  events: Type.Array(FleetEvent, { maxItems: 20 }),
  /** The servers the caller may see. */
  servers: Count,
  /** Servers whose event log the events were taken from. */
  read: Count,
  /** Servers whose event log could not be read (the agent or the BMC answered with an error). */
  failed: Count,
  /** Servers with a log not read yet (a large fleet is read over several requests). */
  unread: Count,
  /** Servers without an event log to read: the BMC offers none, or their agent is offline. */
  noEventLog: Count,
  /** ISO-8601 time of the oldest log reading in the answer, null when none was read. */
  oldestRead: Type.Union([Type.String(), Type.Null()]),
  at: Type.String(),
});
export type FleetEvents = Static<typeof FleetEvents>;
