/**
 * The relay's SSH front door as a user writes it: the `ssh` command and the
 * known_hosts line (OpenSSH writes `[host]:port` for any port but 22, sshd(8)
 * "SSH_KNOWN_HOSTS FILE FORMAT"), from the relay URL the console talks to.
 */
export function sshHostName(relayUrl: string): string {
  return new URL(relayUrl).hostname.replace(/^\[(.*)\]$/, '$1');
}

export function knownHostsLine(host: string, port: number, publicKey: string): string {
  return `${port === 22 ? host : `[${host}]:${port}`} ${publicKey}`;
}

export function sshCommand(serverId: string, host: string, port: number): string {
  return `ssh ${port === 22 ? '' : `-p ${port} `}${serverId}@${host.includes(':') ? `[${host}]` : host}`;
}
