import type { MediaImageView, ServerView } from '@lightsout/shared';
import { useEffect, useState } from 'react';
import type { RelayClient } from '../api/relay-client.js';
import { Dialog } from '../components/Dialog.js';
import { mediaUrlProblem } from './media-url.js';
import { formatBytes } from './transfer-meter.js';

/** What the dialog asks to mount. */
export type MountChoice = { source: 'file'; file: File } | { source: 'url'; url: string } | { source: 'cached'; image: MediaImageView };

/**
 * "Mount ISO…" from a server's menu: a file of this computer (uploaded with
 * the resumable upload the drop uses), a URL the agent fetches under the
 * tenant's URL policy, or an image the tenant uploaded before (mounted by
 * its SHA-256, nothing is uploaded again).
 */
export function MountIsoDialog({ server, client, onConfirm, onCancel }: { server: ServerView; client: RelayClient; onConfirm(choice: MountChoice, boot: boolean): void; onCancel(): void }) {
  const [source, setSource] = useState<MountChoice['source']>('file');
  const [file, setFile] = useState<File | null>(null);
  const [url, setUrl] = useState('');
  const [images, setImages] = useState<MediaImageView[] | null>(null);
  const [imagesError, setImagesError] = useState<string | null>(null);
  const [picked, setPicked] = useState<string | null>(null);
  const [boot, setBoot] = useState(false);
  const redfish = server.capabilities.includes('media');

  useEffect(() => {
    let live = true;
    client.mediaImages(server.id).then(
      (list) => live && setImages([...list].sort((left, right) => (right.createdAt ?? '').localeCompare(left.createdAt ?? ''))),
      (error: unknown) => live && setImagesError(error instanceof Error ? error.message : String(error)),
    );
    return () => {
      live = false;
    };
  }, [client, server.id]);

  const image = images?.find((entry) => entry.uploadId === picked) ?? null;
  const urlProblem = source === 'url' ? mediaUrlProblem(url) : null;
  const choice: MountChoice | null = source === 'file' ? (file ? { source, file } : null) : source === 'url' ? (urlProblem ? null : { source, url: url.trim() }) : image ? { source, image } : null;

  return (
    <Dialog
      title={`Mount ISO on ${server.name}`}
      testId="mount-iso-dialog"
      onCancel={onCancel}
      actions={
        <>
          <button onClick={onCancel}>Cancel</button>
          <button className={boot ? 'danger' : 'primary'} disabled={!redfish || choice === null} data-testid="mount-iso-button" onClick={() => choice && onConfirm(choice, boot)}>
            {boot ? 'Mount, boot once from CD, reset' : 'Mount'}
          </button>
        </>
      }
    >
      {redfish ? null : <p className="error-text">Virtual media needs Redfish on this BMC; {server.name} offers IPMI only.</p>}
      <div className="mount-sources" role="radiogroup" aria-label="Image source">
        <div className={`mount-source${source === 'file' ? ' chosen' : ''}`}>
          <label><input type="radio" name="mount-source" checked={source === 'file'} onChange={() => setSource('file')} /> A file on this computer</label>
          <input
            aria-label="ISO file"
            type="file"
            accept=".iso,.img,application/x-iso9660-image"
            data-testid="mount-file-input"
            onChange={(event) => {
              setFile(event.target.files?.[0] ?? null);
              setSource('file');
            }}
          />
          {file ? <span className="muted">{formatBytes(file.size)} · the upload resumes by itself after a network cut</span> : null}
        </div>
        <div className={`mount-source${source === 'url' ? ' chosen' : ''}`}>
          <label><input type="radio" name="mount-source" checked={source === 'url'} onChange={() => setSource('url')} /> From a URL</label>
          <input
            aria-label="Image URL"
            type="url"
            placeholder="https://mirror.example.com/images/installer.iso"
            value={url}
            data-testid="mount-url-input"
            onFocus={() => setSource('url')}
            onChange={(event) => setUrl(event.target.value)}
          />
          <span className={source === 'url' && url !== '' && urlProblem ? 'error-text' : 'muted'}>{source === 'url' && url !== '' && urlProblem ? urlProblem : 'The agent fetches it; your tenant’s URL policy lists the hosts it may fetch from.'}</span>
        </div>
        <div className={`mount-source mount-cached${source === 'cached' ? ' chosen' : ''}`}>
          <label>
            <input type="radio" name="mount-source" checked={source === 'cached'} disabled={!images || images.length === 0} onChange={() => setSource('cached')} /> An image uploaded before
          </label>
          {imagesError ? <p className="error-text">{imagesError}</p> : images === null ? <p className="muted">Loading…</p> : images.length === 0 ? <p className="muted">None yet: uploaded images are kept and listed here.</p> : (
            <table className="data" data-testid="mount-cached-images">
              <thead><tr><th /><th>Image</th><th style={{ textAlign: 'right' }}>Size</th><th>Uploaded by</th><th>When</th></tr></thead>
              <tbody>
                {images.map((entry) => (
                  <tr
                    key={entry.uploadId}
                    className={picked === entry.uploadId ? 'selected' : ''}
                    data-testid="mount-cached-image"
                    onClick={() => {
                      setPicked(entry.uploadId);
                      setSource('cached');
                    }}
                  >
                    <td><input type="radio" name="mount-image" aria-label={entry.filename} checked={picked === entry.uploadId && source === 'cached'} onChange={() => setPicked(entry.uploadId)} /></td>
                    <td title={entry.sha256}>{entry.filename}</td>
                    <td className="number">{formatBytes(entry.size)}</td>
                    <td>{entry.uploadedBy}</td>
                    <td title={entry.createdAt ?? undefined}>{entry.createdAt ? new Date(entry.createdAt).toLocaleString() : '—'}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </div>
      </div>
      <label style={{ display: 'block', marginTop: 10 }}>
        <input type="checkbox" checked={boot} onChange={(event) => setBoot(event.target.checked)} data-testid="mount-boot-checkbox" /> Boot once from the virtual CD and reset the server{server.power === 'on' ? ' (it is running now)' : ''}
      </label>
    </Dialog>
  );
}
