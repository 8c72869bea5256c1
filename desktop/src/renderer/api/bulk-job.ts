import type { BulkAccepted, BulkJobView, BulkOperation } from '@lightsout/shared';
import type { RelayClient } from './relay-client.js';

/** How often the console reads a running job's results. */
const POLL_MS = 500;
/** Bounded: the relay settles every server by its own deadlines (a soft off: 5 min). */
const FOLLOW_LIMIT_MS = 15 * 60_000;

/**
 * One operation on a multi-selection as one relay job (POST /v1/bulk with
 * the selected ids), instead of one request per server: the relay bounds it
 * per agent and reports each server once it is done (a power action once the
 * BMC was seen in the target state). `onProgress` gets every reading.
 */
export async function runBulkJob(
  client: RelayClient,
  serverIds: readonly string[],
  operation: BulkOperation,
  onProgress: (view: BulkJobView) => void,
  wait: (ms: number) => Promise<void> = (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
): Promise<BulkJobView> {
  const accepted = await client.request<BulkAccepted>('POST', '/v1/bulk', { selector: { ids: [...serverIds] }, operation });
  const path = `/v1/bulk/${encodeURIComponent(accepted.jobId!)}`;
  for (const started = Date.now(); ; ) {
    const view = await client.request<BulkJobView>('GET', path);
    onProgress(view);
    if (view.state === 'finished' || Date.now() - started > FOLLOW_LIMIT_MS) return view;
    await wait(POLL_MS);
  }
}
