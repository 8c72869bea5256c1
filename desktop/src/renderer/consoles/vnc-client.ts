/**
 * "Open in VNC client" outside the desktop app: the browser cannot open a
 * local port, so the web console shows the CLI command that does
 * (`lightsout vnc SERVER --listen`, docs/native-clients.md).
 */
export function vncClientCommand(serverId: string, viewOnly: boolean, port = 5901): string {
  // Server ids are slugs, but a command someone pastes into a shell is quoted anyway.
  const id = /^[A-Za-z0-9._-]+$/.test(serverId) ? serverId : `'${serverId.replace(/'/g, `'\\''`)}'`;
  return `lightsout vnc ${id} --listen ${port}${viewOnly ? ' --view-only' : ''}`;
}

/** The line shown once the desktop's listener is up: where a VNC client connects. */
export function vncClientListening(info: { url: string; clientOpened: boolean; viewOnly: boolean }): string {
  const where = info.url.replace(/^vnc:\/\//, '');
  return `${info.clientOpened ? 'Opened your VNC client at' : 'Connect your VNC client to'} ${where}${info.viewOnly ? ' (view only)' : ''}`;
}
