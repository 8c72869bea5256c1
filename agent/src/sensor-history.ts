import { SENSOR_HISTORY_LIMIT, type Sensor, type SensorHistory } from '@lightsout/shared';

/** Servers whose readings are kept; the one read longest ago goes first (a bulk read of a whole fleet must not grow memory without bound). */
export const SENSOR_HISTORY_SERVERS = 512;

interface ServerSeries {
  sensors: { name: string; type: string; unit: string }[];
  /** name → column */
  columns: Map<string, number>;
  at: number[];
  series: (number | null)[][];
}

/**
 * The sensor readings the agent answered for each server, kept in memory:
 * at most `limit` samples per server (the oldest drop off) and `maxServers`
 * servers. A relay reaches it with the control op `sensors.history`, through
 * the same routing as every BMC operation, so any replica can draw the
 * chart. A restart of the agent starts it empty.
 */
export class SensorHistoryStore {
  readonly #servers = new Map<string, ServerSeries>();

  constructor(
    private readonly limit = SENSOR_HISTORY_LIMIT,
    private readonly maxServers = SENSOR_HISTORY_SERVERS,
  ) {}

  record(serverId: string, at: number, sensors: readonly Sensor[]): void {
    let entry = this.#servers.get(serverId);
    if (entry) this.#servers.delete(serverId);
    else entry = { sensors: [], columns: new Map(), at: [], series: [] };
    // Map order is the eviction order: this server is now the most recently read.
    this.#servers.set(serverId, entry);
    while (this.#servers.size > this.maxServers) this.#servers.delete(this.#servers.keys().next().value!);

    // A reading older than the last one (a clock step) would break the time axis: it starts over.
    if (entry.at.length > 0 && at < entry.at.at(-1)!) {
      entry.at.length = 0;
      for (const column of entry.series) column.length = 0;
    }
    const row = entry.at.length;
    for (const sensor of sensors) {
      if (entry.columns.has(sensor.name) || entry.sensors.length >= 256) continue;
      entry.columns.set(sensor.name, entry.sensors.length);
      entry.sensors.push({ name: sensor.name, type: sensor.type, unit: sensor.unit });
      // A sensor seen for the first time had no reading before.
      entry.series.push(Array.from({ length: row }, () => null));
    }
    entry.at.push(at);
    for (const column of entry.series) column.push(null);
    for (const sensor of sensors) {
      const column = entry.columns.get(sensor.name);
      if (column !== undefined) entry.series[column]![row] = sensor.value;
    }
    if (entry.at.length > this.limit) {
      const drop = entry.at.length - this.limit;
      entry.at.splice(0, drop);
      for (const column of entry.series) column.splice(0, drop);
    }
  }

  history(serverId: string): SensorHistory {
    const entry = this.#servers.get(serverId);
    if (!entry) return { sensors: [], at: [], series: [], intervalSeconds: 0 };
    return { sensors: entry.sensors.map((sensor) => ({ ...sensor })), at: [...entry.at], series: entry.series.map((column) => [...column]), intervalSeconds: 0 };
  }

  forget(serverId: string): void {
    this.#servers.delete(serverId);
  }
}
