/** Which cipher suite worked last time, per BMC address, so reconnects skip the failing ones. */
export class SuiteCache {
  private readonly suites = new Map<string, number>();

  get(target: string): number | undefined {
    return this.suites.get(target);
  }

  set(target: string, suite: number): void {
    this.suites.set(target, suite);
  }

  /** Preference order for `target`: the cached suite first, then the rest. */
  order(target: string, preference: readonly number[]): number[] {
    const cached = this.suites.get(target);
    return cached === undefined ? [...preference] : [cached, ...preference.filter((suite) => suite !== cached)];
  }
}

/** Shared by every session of the process unless a caller passes its own. */
export const defaultSuiteCache = new SuiteCache();
