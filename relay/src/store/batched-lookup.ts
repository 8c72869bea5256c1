/** Most keys one statement names (`where id in (…)`): far under every driver's bound-parameter limit. */
export const BATCH_MAX_KEYS = 500;

/**
 * Reads rows by key, the keys asked for in one turn of the event loop read
 * by one statement. After a gateway failover hundreds of consoles resume
 * at once, each needing its server's row: one query for all of them
 * instead of one each. Nothing is cached: every answer is what the store
 * held when its statement ran, which the caller asked for no earlier than
 * that turn (as fresh as a statement of its own).
 */
export class BatchedLookup<Key, Row> {
  private waiting = new Map<Key, Array<{ resolve: (row: Row | undefined) => void; reject: (error: unknown) => void }>>();
  private scheduled = false;

  /** `read(keys)` returns the rows found, by key; a key it leaves out has no row. */
  constructor(
    private readonly read: (keys: Key[]) => Promise<Map<Key, Row>>,
    private readonly maxKeys = BATCH_MAX_KEYS,
  ) {}

  get(key: Key): Promise<Row | undefined> {
    return new Promise((resolve, reject) => {
      const callers = this.waiting.get(key);
      if (callers === undefined) this.waiting.set(key, [{ resolve, reject }]);
      else callers.push({ resolve, reject });
      if (this.scheduled) return;
      this.scheduled = true;
      // setImmediate, not a microtask: requests parsed in the same poll phase of the loop join the batch.
      setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.scheduled = false;
    const batch = this.waiting;
    this.waiting = new Map();
    const keys = [...batch.keys()];
    for (let start = 0; start < keys.length; start += this.maxKeys) {
      const chunk = keys.slice(start, start + this.maxKeys);
      this.read(chunk).then(
        (rows) => {
          for (const key of chunk) for (const caller of batch.get(key)!) caller.resolve(rows.get(key));
        },
        (error: unknown) => {
          for (const key of chunk) for (const caller of batch.get(key)!) caller.reject(error);
        },
      );
    }
  }
}
