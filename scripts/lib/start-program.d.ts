/** True when `bundle` exists with a manifest and every source in it is unchanged. */
export function bundleIsCurrent(bundle: string): boolean;
/** Starts the bundle while current, else the sources through tsx (`bundle`, `source` relative to `binUrl`). */
export function startProgram(binUrl: string, bundle: string, source: string): Promise<void>;
