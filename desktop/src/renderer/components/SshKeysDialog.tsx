import { LightsoutError, type SshHostKey, type SshKeyView } from '@lightsout/shared';
import { useCallback, useEffect, useState } from 'react';
import type { RelayClient } from '../api/relay-client.js';
import { Dialog } from './Dialog.js';
import { knownHostsLine, sshCommand, sshHostName } from './ssh-host.js';

/**
 * The account's SSH side (docs/native-clients.md): the front door's host key
 * fingerprint to compare with what `ssh` shows on first connect, and the
 * user's own public keys — add (paste a .pub line), list, remove.
 */
export function SshKeysDialog({ client, onClose }: { client: RelayClient; onClose(): void }) {
  const [hostKey, setHostKey] = useState<SshHostKey | null>(null);
  const [keys, setKeys] = useState<SshKeyView[] | null>(null);
  const [keysError, setKeysError] = useState<string | null>(null);
  const [draft, setDraft] = useState('');
  const [error, setError] = useState<string | null>(null);
  const host = sshHostName(client.baseUrl);

  const reload = useCallback(async () => {
    try {
      setKeys(await client.sshKeys());
      setKeysError(null);
    } catch (caught) {
      setKeysError(caught instanceof LightsoutError ? caught.message : String(caught));
    }
  }, [client]);
  useEffect(() => {
    void client.sshHostKey().then(setHostKey, (caught: unknown) => setError(String(caught)));
    void reload();
  }, [client, reload]);

  const add = async () => {
    setError(null);
    try {
      await client.addSshKey(draft.trim());
      setDraft('');
      await reload();
    } catch (caught) {
      setError(caught instanceof LightsoutError ? `${caught.code}: ${caught.message}` : String(caught));
    }
  };
  const remove = async (id: string) => {
    setError(null);
    await client.removeSshKey(id).catch((caught: unknown) => setError(String(caught)));
    await reload();
  };

  return (
    <Dialog title="SSH access" testId="ssh-keys-dialog" onCancel={onClose} actions={<button className="primary" onClick={onClose}>Close</button>}>
      <h3>Host key</h3>
      {hostKey === null ? (
        <p>Loading…</p>
      ) : (
        <div data-testid="ssh-host-key">
          <p>
            Before you answer <em>yes</em> the first time, check that <code>ssh</code> shows this fingerprint:
          </p>
          <p>
            <code className="fingerprint" data-testid="ssh-host-key-fingerprint">{hostKey.fingerprint}</code> ({hostKey.algorithm})
          </p>
          {hostKey.port === null ? (
            <p>This relay does not listen for SSH.</p>
          ) : (
            <>
              <p>
                Connect with <code data-testid="ssh-command">{sshCommand('SERVER', host, hostKey.port)}</code>, or pin the key first by adding this line to <code>~/.ssh/known_hosts</code>:
              </p>
              <pre className="known-hosts" data-testid="ssh-known-hosts">{knownHostsLine(host, hostKey.port, hostKey.publicKey)}</pre>
            </>
          )}
        </div>
      )}
      <h3>Your public keys</h3>
      {keysError !== null ? <p className="error">{keysError}</p> : null}
      {keys === null ? null : keys.length === 0 ? (
        <p>No keys yet.</p>
      ) : (
        <table className="data ssh-keys" data-testid="ssh-keys">
          <thead>
            <tr><th>Name</th><th>Type</th><th>Fingerprint</th><th>Last used</th><th /></tr>
          </thead>
          <tbody>
            {keys.map((key) => (
              <tr key={key.id} data-testid="ssh-key-row" data-fingerprint={key.fingerprint}>
                <td>{key.name}</td>
                <td>{key.algorithm} {key.bits}</td>
                <td><code>{key.fingerprint}</code></td>
                <td>{key.lastUsedAt ?? 'never'}</td>
                <td><button className="danger" onClick={() => void remove(key.id)}>Remove</button></td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      <label className="ssh-key-add">
        <span>
          Add a key (the contents of <code>~/.ssh/id_ed25519.pub</code>):
        </span>
        <textarea data-testid="ssh-key-input" rows={3} value={draft} onChange={(event) => setDraft(event.target.value)} placeholder="ssh-ed25519 AAAA… you@laptop" />
      </label>
      <button onClick={() => void add()} disabled={draft.trim() === ''} data-testid="ssh-key-add">Add key</button>
      {error !== null ? <p className="error" role="alert">{error}</p> : null}
    </Dialog>
  );
}
