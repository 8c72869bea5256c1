// Real VNC peers for tests: x11vnc, TigerVNC Xvnc and websockify, each on
// free loopback ports with its own X display and temp dir.
export { startX11vnc, startXvnc, VNC_ROOT_COLOUR, type VncPeer, type VncServerOptions, type X11vncOptions, type XvncOptions } from './vnc-servers.js';
export { startWebsockify, type WebsockifyOptions, type WebsockifyPeer } from './vnc-websockify.js';
export { reserveDisplay, type DisplayReservation } from './vnc-display.js';
export { freeTcpPort } from './ports.js';
export { startPeers, stopPeers } from './vnc-group.js';
