// A child program for vnc-servers.test.ts: starts one x11vnc peer, prints its
// pids as JSON and waits to be killed (the test SIGKILLs this process to
// prove the peers do not outlive it).
import { startX11vnc } from '../vnc.js';

const peer = await startX11vnc();
process.stdout.write(`${JSON.stringify({ pids: peer.pids, display: peer.display, directory: peer.directory })}\n`);
setInterval(() => undefined, 60_000);
