import { fileURLToPath } from 'node:url';

/**
 * `@lightsout/lab/testing`: the lab's own test support — programs its tests
 * start as a child and then kill, to prove that what the child started does
 * not outlive it. Each path is run with `node --import tsx`.
 */
export const childPrograms = {
  /** Starts one long-running process with spawnTied and prints `{ pid }`. */
  tiedProcess: fileURLToPath(new URL('./processes-child.ts', import.meta.url)),
  /** Starts one x11vnc peer and prints `{ pids, display, directory }`. */
  vncPeer: fileURLToPath(new URL('./vnc-orphan-child.ts', import.meta.url)),
};
