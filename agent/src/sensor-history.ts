import { SENSOR_HISTORY_LIMIT, type Sensor, type SensorHistory } from '@lightsout/shared';

/**
 * Servers whose readings are kept by default. With the background sampler every server is read
 * once a minute, so this is the steady state, not a cache: at 40 sensors a server costs
 * (8 + 40 × 4) × 720 bytes ≈ 118 KiB, 1,024 servers ≈ 118 MiB (docs/operations.md "Sensor history").
 */
export const SENSOR_HISTORY_SERVERS = 1024;

/** Sensors kept per server; SensorHistory allows no more. */
export const SENSOR_HISTORY_SENSORS = 256;

/**
 * One server's readings as a ring of `limit` rows: `at` and one column per
 * sensor, compact typed arrays (a boxed number in a JS array costs 8–16 bytes
 * plus the array's slack; a Float32 cell costs 4). NaN marks "no reading".
 * A column is allocated at the full limit at once: grown by doubling, the
 * arrays it left behind fragmented the heap so that a full store of 1,000
 * servers × 40 sensors cost 219 MiB of RSS for 115 MiB of readings, against
 * 152 MiB allocated whole (bench sensor-sampling) — and with the sampler on,
 * every held server reaches the limit within hours anyway.
 */
interface ServerSeries {
  sensors: { name: string; type: string; unit: string }[];
  /** name → column */
  columns: Map<string, number>;
  at: Float64Array;
  values: Float32Array[];
  start: number;
  count: number;
}

/** A Float32 cell read back as the reading it stood for: BMC readings carry far fewer than 7 significant digits. */
function readingOf(cell: number): number | null {
  return Number.isNaN(cell) ? null : Number(cell.toPrecision(7));
}

/**
 * The sensor readings the agent took of each server, kept in memory: at most
 * `limit` samples per server (the oldest drop off) and `maxServers` servers.
 * Two writers: `record` — a user's read (`sensors.list`) — keeps the server
 * and makes it the most recently used, evicting the least recently used one
 * when full; `sample` — the background sampler — only adds a server while
 * there is room and never evicts, so a fleet larger than the store keeps
 * stable histories for the servers it holds instead of churning through them.
 * Reading a history (`history`) counts as use: a server someone looks at
 * stays. A relay reaches it with the control op `sensors.history`, through
 * the same routing as every BMC operation, so any replica can draw the
 * chart. A restart of the agent starts it empty.
 */
export class SensorHistoryStore {
  /** Map order is the eviction order: least recently used first. */
  readonly #servers = new Map<string, ServerSeries>();

  constructor(
    private readonly limit = SENSOR_HISTORY_LIMIT,
    readonly maxServers = SENSOR_HISTORY_SERVERS,
  ) {}

  /** A user's reading: kept whatever it costs another server. */
  record(serverId: string, at: number, sensors: readonly Sensor[]): void {
    let entry = this.#servers.get(serverId);
    if (entry) this.#servers.delete(serverId);
    else entry = this.#empty();
    this.#servers.set(serverId, entry);
    while (this.#servers.size > this.maxServers) this.#servers.delete(this.#servers.keys().next().value!);
    this.#append(entry, at, sensors);
  }

  /** A background reading: kept when the server is held or there is room; false when it was not. */
  sample(serverId: string, at: number, sensors: readonly Sensor[]): boolean {
    let entry = this.#servers.get(serverId);
    if (entry === undefined) {
      if (!this.canKeep(serverId)) return false;
      entry = this.#empty();
      this.#servers.set(serverId, entry);
    }
    this.#append(entry, at, sensors);
    return true;
  }

  /** Whether a background reading of this server would be kept (the sampler does not read a BMC for nothing). */
  canKeep(serverId: string): boolean {
    return this.#servers.has(serverId) || this.#servers.size < this.maxServers;
  }

  /** When the last kept reading of this server was taken; undefined when none is kept. */
  lastAt(serverId: string): number | undefined {
    const entry = this.#servers.get(serverId);
    if (entry === undefined || entry.count === 0) return undefined;
    return entry.at[(entry.start + entry.count - 1) % entry.at.length];
  }

  history(serverId: string): SensorHistory {
    const entry = this.#servers.get(serverId);
    if (!entry) return { sensors: [], at: [], series: [], intervalSeconds: 0 };
    // Someone looks at this chart: it is the last to go.
    this.#servers.delete(serverId);
    this.#servers.set(serverId, entry);
    const rows = Array.from({ length: entry.count }, (_, row) => (entry.start + row) % entry.at.length);
    return {
      sensors: entry.sensors.map((sensor) => ({ ...sensor })),
      at: rows.map((index) => entry.at[index]!),
      series: entry.values.map((column) => rows.map((index) => readingOf(column[index]!))),
      intervalSeconds: 0,
    };
  }

  forget(serverId: string): void {
    this.#servers.delete(serverId);
  }

  /** Servers held now. */
  get size(): number {
    return this.#servers.size;
  }

  /** Bytes held in sample columns now (the typed arrays; the names and maps are small beside them). */
  get bytes(): number {
    let total = 0;
    for (const entry of this.#servers.values()) total += entry.at.byteLength + entry.values.reduce((sum, column) => sum + column.byteLength, 0);
    return total;
  }

  #empty(): ServerSeries {
    return { sensors: [], columns: new Map(), at: new Float64Array(this.limit), values: [], start: 0, count: 0 };
  }

  #append(entry: ServerSeries, at: number, sensors: readonly Sensor[]): void {
    // A reading older than the last one (a clock step) would break the time axis: it starts over.
    const last = entry.count > 0 ? entry.at[(entry.start + entry.count - 1) % entry.at.length]! : undefined;
    if (last !== undefined && at < last) {
      entry.start = 0;
      entry.count = 0;
    }
    for (const sensor of sensors) {
      if (entry.columns.has(sensor.name) || entry.sensors.length >= SENSOR_HISTORY_SENSORS) continue;
      entry.columns.set(sensor.name, entry.sensors.length);
      entry.sensors.push({ name: sensor.name, type: sensor.type, unit: sensor.unit });
      // A sensor seen for the first time had no reading before.
      entry.values.push(new Float32Array(entry.at.length).fill(Number.NaN));
    }
    let row: number;
    if (entry.count < entry.at.length) {
      row = (entry.start + entry.count) % entry.at.length;
      entry.count += 1;
    } else {
      // Full at the limit: the oldest row is overwritten.
      row = entry.start;
      entry.start = (entry.start + 1) % entry.at.length;
    }
    entry.at[row] = at;
    for (const column of entry.values) column[row] = Number.NaN;
    for (const sensor of sensors) {
      const column = entry.columns.get(sensor.name);
      if (column !== undefined) entry.values[column]![row] = sensor.value ?? Number.NaN;
    }
  }
}
