// Real VNC peers for tests: x11vnc, TigerVNC Xvnc and websockify, each on
// free loopback ports with its own X display and temp dir.
//
//   const peers = await startPeers({ bmc: () => startX11vnc({ password: 'vncpass' }) });
//   const bridge = await startWebsockify(peers.bmc, { tls: true });   // wss://, bridge.certificate
//   …  openRfbProxy({ url: peers.bmc.url, password: 'vncpass' })      // pixels are VNC_ROOT_COLOUR
//   await bridge.stop(); await stopPeers(peers);
//
// - The root window is a known solid colour (xsetroot). A Python warm-up
//   client asks for frames until that colour shows: x11vnc's first client
//   sees a black frame.
// - Each display number is reserved with the standard /tmp/.X<n>-lock
//   (O_EXCL), so tests can run in parallel.
// - Peers run behind a PR_SET_PDEATHSIG shim, so they die with the test
//   process. stop() ends exactly the pids that were started.
// - Needs Debian's xvfb, x11vnc, tigervnc-standalone-server, websockify,
//   x11-xserver-utils (xsetroot), openssl and python3-cryptography.
export { startX11vnc, startXvnc, VNC_ROOT_COLOUR, type VncPeer, type VncServerOptions, type X11vncOptions, type XvncOptions } from './vnc-servers.js';
export { startWebsockify, type WebsockifyOptions, type WebsockifyPeer, type WebsockifyTokenTargets, websockifyTokenUrl } from './vnc-websockify.js';
export { reserveDisplay, type DisplayReservation } from './vnc-display.js';
export { freeTcpPort } from './ports.js';
export { startPeers, stopPeers } from './vnc-group.js';
