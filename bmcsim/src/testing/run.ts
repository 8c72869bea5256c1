import { spawn } from 'node:child_process';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a third-party client to completion with a hard deadline; the child is
 * killed (by its own pid) if it overstays, so a hung peer fails the test
 * instead of hanging it.
 */
export async function run(command: string, args: string[], options: { timeoutMs?: number; input?: string; env?: NodeJS.ProcessEnv } = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { stdio: ['pipe', 'pipe', 'pipe'], env: options.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('latin1')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('latin1')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 20_000);
    child.on('error', (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin.end(options.input ?? '');
  });
}

/** Decodes any image file to raw RGB with Debian's python3-PIL. */
export async function decodeImage(path: string): Promise<{ width: number; height: number; rgb: Uint8Array }> {
  const script = 'import sys;from PIL import Image;i=Image.open(sys.argv[1]).convert("RGB");sys.stdout.write("%d %d\\n"%i.size);sys.stdout.flush();sys.stdout.buffer.write(i.tobytes())';
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/python3', ['-c', script, path], { stdio: ['ignore', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => chunks.push(chunk));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    child.on('error', reject);
    child.on('close', (code) => {
      if (code !== 0) return reject(new Error(`image decode failed: ${stderr}`));
      const all = Buffer.concat(chunks);
      const newline = all.indexOf(0x0a);
      const [width, height] = all.subarray(0, newline).toString().split(' ').map(Number) as [number, number];
      resolve({ width, height, rgb: new Uint8Array(all.subarray(newline + 1)) });
    });
  });
}
