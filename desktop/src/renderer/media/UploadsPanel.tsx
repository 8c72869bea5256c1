import { useEffect, useState } from 'react';
import type { MediaUploads, UploadJob } from './media-uploads.js';

const megabytes = (bytes: number) => `${(bytes / (1024 * 1024)).toFixed(bytes < 10 * 1024 * 1024 ? 1 : 0)} MiB`;

function describe(job: UploadJob): string {
  switch (job.phase) {
    case 'hashing': return `Checksumming ${megabytes(job.bytes)} of ${megabytes(job.size)}`;
    case 'uploading': return `Uploading ${megabytes(job.bytes)} of ${megabytes(job.size)}`;
    case 'paused': return `Paused at ${megabytes(job.bytes)}`;
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
        const fraction = job.size === 0 ? 1 : job.bytes / job.size;
        return (
          <div key={job.id} className="upload" data-testid="upload" data-phase={job.phase}>
            <div className="row">
              <span className="name" title={job.fileName}>{job.fileName}</span>
              <span>→ {job.serverId}</span>
            </div>
            <progress max={1} value={job.phase === 'mounting' || job.phase === 'done' ? 1 : fraction} data-testid="upload-progress" data-percent={Math.round(fraction * 100)} />
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
