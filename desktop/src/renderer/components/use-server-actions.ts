import { type BootRequest, type BootResult, type BulkJobView, type BulkOperation, LightsoutError, type PowerAction } from '@lightsout/shared';
import { type Dispatch, type SetStateAction, useCallback } from 'react';
import { bootResultText, POWER_ACTIONS, powerOutcomeText, setBootOf } from '../actions/server-actions.js';
import { runBulkJob } from '../api/bulk-job.js';
import { forEachServer, type RelayClient } from '../api/relay-client.js';
import type { Platform } from '../platform/index.js';
import type { ActionResult } from './ActionDialogs.js';
import { count } from './count.js';
import type { Modal } from './shell-modal.js';
import type { ToastKind } from './use-toasts.js';

/** What a bulk result row says: the BMC's answer, or the error. */
function rowsOf(view: BulkJobView, describe: (data: unknown) => string): ActionResult[] {
  return view.results.map((result) =>
    result.ok
      ? { serverId: result.serverId, ok: true, detail: describe(result.data) }
      : { serverId: result.serverId, ok: false, detail: result.message ?? 'failed', error: new LightsoutError(result.code ?? 'INTERNAL', result.message ?? 'failed') },
  );
}

export type RunBulk = (title: string, serverIds: readonly string[], single: (serverId: string) => Promise<string>, operation: BulkOperation, describe: (data: unknown) => string) => Promise<void>;

/**
 * The actions that act on servers (power, boot device, and any other through
 * runBulk): one server's answer goes to a toast, a selection's to the results
 * dialog, filled in as the relay's job reports.
 */
export function useServerActions({ client, platform, toast, setModal }: { client: RelayClient; platform: Platform; toast: (message: string, kind?: ToastKind) => void; setModal: Dispatch<SetStateAction<Modal | null>> }) {
  /**
   * One server: its own request and a toast. A multi-selection: one relay
   * job (POST /v1/bulk), whose results fill the dialog as they come.
   */
  const runBulk: RunBulk = useCallback(
    async (title, serverIds, single, operation, describe) => {
      if (serverIds.length === 1) {
        const [result] = await forEachServer(serverIds, 1, single);
        if (result!.ok) toast(`${serverIds[0]}: ${result!.value}`);
        else toast(`${serverIds[0]}: ${result!.error?.code} — ${result!.error?.message}`, 'error');
        return;
      }
      setModal({ kind: 'results', title, results: [], pending: serverIds.length });
      const show = (view: BulkJobView) => setModal((current) => (current?.kind === 'results' ? { ...current, results: rowsOf(view, describe), pending: view.total - view.results.length } : current));
      try {
        const view = await runBulkJob(client, serverIds, operation, show);
        platform.notify(title, view.failed === 0 ? `${count(view.results.length, 'server')} done` : `${view.failed} of ${view.total} failed`);
      } catch (error) {
        setModal(null);
        toast(`${title}: ${error instanceof LightsoutError ? `${error.code} — ${error.message}` : String(error)}`, 'error');
      }
    },
    [client, platform, toast, setModal],
  );

  const power = useCallback(
    (serverIds: readonly string[], action: PowerAction) =>
      void runBulk(
        `${POWER_ACTIONS.find((entry) => entry.action === action)?.label}`,
        serverIds,
        async (serverId) => {
          const result = await client.power(serverId, action);
          // the BMC accepted it; the tree shows it pending until the BMC reports the target
          return powerOutcomeText(action, result);
        },
        { kind: 'power', action },
        // a bulk power result is ok only once the BMC was seen in the target state
        (data) => `power ${(data as { power?: string } | undefined)?.power ?? action}`,
      ),
    [client, runBulk],
  );

  const boot = useCallback(
    (serverIds: readonly string[], request: BootRequest) =>
      void runBulk(
        'Set boot device',
        serverIds,
        (serverId) => setBootOf(serverId, request, (id, override) => client.setBoot(id, override), (message) => toast(message, 'error')),
        { kind: 'boot', ...request },
        (data) => bootResultText(data as BootResult),
      ),
    [client, runBulk, toast],
  );

  return { runBulk, power, boot };
}
