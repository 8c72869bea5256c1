import type { BootDevice, BootRequest, LightsoutError, PowerAction, ServerView } from '@lightsout/shared';
import { useState } from 'react';
import { BOOT_DEVICES, type BootModeChoice, bootRequest, powerActionInfo } from '../actions/server-actions.js';
import { Dialog } from './Dialog.js';
import { count, runningNote } from './count.js';

const names = (servers: readonly ServerView[]) => (
  <ul className="servers">
    {servers.slice(0, 50).map((server) => <li key={server.id}>{server.name} <span style={{ color: 'var(--text-muted)' }}>({server.id})</span></li>)}
    {servers.length > 50 ? <li>… and {servers.length - 50} more</li> : null}
  </ul>
);

export function ConfirmPowerDialog({ servers, action, onConfirm, onCancel }: { servers: readonly ServerView[]; action: PowerAction; onConfirm(): void; onCancel(): void }) {
  const info = powerActionInfo(action);
  const on = servers.filter((server) => server.power === 'on').length;
  return (
    <Dialog
      title={`${info.label}: ${servers.length === 1 ? servers[0]!.name : count(servers.length, 'server')}?`}
      testId="confirm-dialog"
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button className="danger" onClick={onConfirm} data-testid="confirm-button">{info.label}</button>
        </>
      }
    >
      <p>This will {info.describe}{runningNote(on, servers.length)}.</p>
      {names(servers)}
    </Dialog>
  );
}

/** The mode starts at "keep current": a boot device change never switches UEFI/Legacy unasked. */
export function BootDialog({ servers, onConfirm, onCancel }: { servers: readonly ServerView[]; onConfirm(request: BootRequest): void; onCancel(): void }) {
  const [device, setDevice] = useState<BootDevice>('pxe');
  const [persistent, setPersistent] = useState(false);
  const [mode, setMode] = useState<BootModeChoice>('keep');
  return (
    <Dialog
      title={`Boot device: ${servers.length === 1 ? servers[0]!.name : count(servers.length, 'server')}`}
      testId="boot-dialog"
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button className="primary" onClick={() => onConfirm(bootRequest(device, persistent, mode))}>Set boot device</button>
        </>
      }
    >
      <fieldset style={{ border: 'none', padding: 0, margin: 0, display: 'grid', gap: 4 }}>
        {BOOT_DEVICES.map((entry) => (
          <label key={entry.device}>
            <input type="radio" name="boot-device" checked={device === entry.device} onChange={() => setDevice(entry.device)} /> {entry.label}
          </label>
        ))}
      </fieldset>
      <p style={{ display: 'flex', gap: 16 }}>
        <label><input type="radio" name="boot-persist" checked={!persistent} onChange={() => setPersistent(false)} /> Next boot only</label>
        <label><input type="radio" name="boot-persist" checked={persistent} onChange={() => setPersistent(true)} /> Every boot</label>
        <label>
          Mode{' '}
          <select aria-label="Boot mode" value={mode} onChange={(event) => setMode(event.target.value as BootModeChoice)}>
            <option value="keep">keep current</option>
            <option value="uefi">UEFI</option>
            <option value="legacy">Legacy</option>
          </select>
        </label>
      </p>
      {servers.length > 1 ? names(servers) : null}
    </Dialog>
  );
}

export interface ActionResult {
  serverId: string;
  ok: boolean;
  detail: string;
  error?: LightsoutError;
}

/** Per-server outcome of a bulk action. */
export function ResultsDialog({ title, results, pending, onClose }: { title: string; results: readonly ActionResult[]; pending: number; onClose(): void }) {
  const failed = results.filter((result) => !result.ok).length;
  return (
    <Dialog title={title} testId="results-dialog" onCancel={onClose} actions={<button className="primary" onClick={onClose}>Close</button>}>
      <p>
        {pending > 0 ? `${pending} pending · ` : ''}
        {results.length - failed} succeeded{failed > 0 ? ` · ${failed} failed` : ''}
      </p>
      <table className="data">
        <thead><tr><th>Server</th><th>Result</th><th>Detail</th></tr></thead>
        <tbody>
          {results.map((result) => (
            <tr key={result.serverId} data-testid="result-row" data-ok={result.ok}>
              <td>{result.serverId}</td>
              <td className={result.ok ? 'status-ok' : 'status-error'}>{result.ok ? 'ok' : result.error?.code ?? 'failed'}</td>
              <td title={result.error?.hint}>{result.detail}</td>
            </tr>
          ))}
        </tbody>
      </table>
    </Dialog>
  );
}

export function MountDialog({ server, file, onConfirm, onCancel }: { server: ServerView; file: File; onConfirm(boot: boolean): void; onCancel(): void }) {
  const redfish = server.capabilities.includes('media');
  return (
    <Dialog
      title={`Mount ${file.name} on ${server.name}`}
      testId="mount-dialog"
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button onClick={() => onConfirm(false)} disabled={!redfish}>Upload and mount</button>
          <button className="danger" onClick={() => onConfirm(true)} disabled={!redfish} data-testid="mount-boot-button">Mount, boot once from CD, reset</button>
        </>
      }
    >
      <p>{(file.size / (1024 * 1024)).toFixed(1)} MiB. The upload resumes by itself after a network cut.</p>
      {redfish ? <p>“Mount + boot” resets the server{server.power === 'on' ? ' (it is running now)' : ''}.</p> : <p className="error-text">Virtual media needs Redfish on this BMC; {server.name} offers IPMI only.</p>}
    </Dialog>
  );
}
