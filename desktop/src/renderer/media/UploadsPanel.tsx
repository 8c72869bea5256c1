import { useEffect, useState } from 'react';
import type { MediaUploads, UploadJob } from './media-uploads.js';
import { describeTransfer, formatBytes } from './transfer-meter.js';

function describe(job: UploadJob): string {
  switch (job.phase) {
    case 'hashing': return `Checksumming ${formatBytes(job.bytes)} of ${formatBytes(job.size)}`;
    case 'uploading': return `Uploading ${formatBytes(job.bytes)} of ${formatBytes(job.size)}`;
    case 'paused': return `Paused at ${formatBytes(job.bytes)}`;
    case 'mounting': return job.media ? job.media.message : 'Mounting…';
    case 'done': return job.media?.message ?? 'Mounted';
    case 'failed': return job.error ?? 'Failed';
  }
}

/** Progress of ISO uploads and mounts, bottom right. */
export function UploadsPanel({ uploads }: { uploads: MediaUploads }) {
  const [jobs, setJobs] = useState(uploads.jobs);
  useEffect(() => uploads.subscribe(setJobs), [uploads]);
  if (jobs.length === 0) return null;
  return (
    <div className="uploads" aria-live="polite">
      {jobs.map((job) => {
        // A file's bar is its upload; a URL's or a cached image's is the transfer to the agent while mounting.
        const transferring = job.phase === 'hashing' || job.phase === 'uploading' || job.phase === 'paused' || (job.source !== 'file' && job.phase === 'mounting' && job.media?.step === 'transferring');
        const fraction = job.phase === 'done' || (job.phase === 'mounting' && !transferring) ? 1 : job.transfer.percent / 100;
        return (
          <div key={job.id} className="upload" data-testid="upload" data-phase={job.phase}>
            <div className="row">
              <span className="name" title={job.fileName}>{job.fileName}</span>
              <span>→ {job.serverId}</span>
            </div>
            <progress max={1} value={fraction} data-testid="upload-progress" data-percent={job.transfer.percent} />
            {transferring && job.phase !== 'paused' ? <div className="row meter" data-testid="upload-meter">{describeTransfer(job.transfer)}</div> : null}
            <div className="row">
              <span style={{ flex: 1 }} className={job.phase === 'failed' ? 'error-text' : ''} data-testid="upload-status">{describe(job)}</span>
              {job.phase === 'uploading' ? <button onClick={() => uploads.pause(job.id)}>Pause</button> : null}
              {job.phase === 'paused' ? <button onClick={() => uploads.resume(job.id)}>Resume</button> : null}
              {job.phase === 'done' || job.phase === 'failed' ? <button onClick={() => uploads.dismiss(job.id)}>Dismiss</button> : <button onClick={() => uploads.cancel(job.id)}>Cancel</button>}
            </div>
          </div>
        );
      })}
    </div>
  );
}
