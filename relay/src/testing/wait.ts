import { waitFor as labWaitFor } from '@lightsout/lab/wait';

/** @lightsout/lab's waitFor with the options object the relay's tests pass (`what` among them). */
export function waitFor<T>(probe: () => Promise<T | undefined | false> | T | undefined | false, options: { timeoutMs?: number; intervalMs?: number; what?: string } = {}): Promise<T> {
  return labWaitFor(options.what ?? 'a condition', probe, options);
}
