/**
 * The tiny login + echoing shell that runs on the simulated host's serial
 * console once it has booted. It turns typed bytes into output bytes; the
 * host decides when it is running and what `poweroff`/`reboot` do.
 */

export interface ShellHost {
  readonly hostname: string;
  uptimeSeconds(): number;
  poweroff(): void;
  reboot(): void;
}

const MAX_LINE = 256;
const encoder = new TextEncoder();

export class Shell {
  private line = '';
  private user: string | undefined;
  private lastWasCarriageReturn = false;

  constructor(private readonly host: ShellHost) {}

  /** Output that starts a fresh session (after boot or logout). */
  loginPrompt(): Uint8Array {
    this.user = undefined;
    this.line = '';
    return encoder.encode(`\r\n${this.host.hostname} login: `);
  }

  /** Feeds typed bytes; returns everything the shell prints in response. */
  input(bytes: Uint8Array): Uint8Array {
    let output = '';
    for (const byte of bytes) {
      const wasCarriageReturn = this.lastWasCarriageReturn;
      this.lastWasCarriageReturn = byte === 0x0d;
      if (byte === 0x0d || byte === 0x0a) {
        if (byte === 0x0a && wasCarriageReturn) continue; // CR LF is one Enter
        output += '\r\n' + this.submit();
      } else if (byte === 0x7f || byte === 0x08) {
        if (this.line.length > 0) {
          this.line = this.line.slice(0, -1);
          output += '\b \b';
        }
      } else if (byte === 0x03) {
        this.line = '';
        output += '^C\r\n' + this.prompt();
      } else if (byte >= 0x20 && byte < 0x7f && this.line.length < MAX_LINE) {
        this.line += String.fromCharCode(byte);
        output += String.fromCharCode(byte);
      }
    }
    return encoder.encode(output);
  }

  private prompt(): string {
    return this.user === undefined ? `${this.host.hostname} login: ` : `${this.user}@${this.host.hostname}:~# `;
  }

  private submit(): string {
    const line = this.line.trim();
    this.line = '';
    if (this.user === undefined) {
      if (line === '') return this.prompt();
      this.user = line;
      return `Welcome to ${this.host.hostname} (bmcsim simulated host). Type 'help'.\r\n` + this.prompt();
    }
    const [command = '', ...words] = line.split(/\s+/);
    switch (command) {
      case '':
        return this.prompt();
      case 'help':
        return 'commands: help echo uname hostname whoami uptime logout poweroff reboot\r\n' + this.prompt();
      case 'echo':
        return words.join(' ') + '\r\n' + this.prompt();
      case 'uname':
        return (words[0] === '-a' ? `Linux ${this.host.hostname} 6.1.0-bmcsim x86_64 GNU/Linux` : 'Linux') + '\r\n' + this.prompt();
      case 'hostname':
        return this.host.hostname + '\r\n' + this.prompt();
      case 'whoami':
        return this.user + '\r\n' + this.prompt();
      case 'uptime':
        return `up ${this.host.uptimeSeconds()} seconds\r\n` + this.prompt();
      case 'logout':
      case 'exit':
        this.user = undefined;
        return this.prompt();
      case 'poweroff':
        this.host.poweroff();
        return '';
      case 'reboot':
        this.host.reboot();
        return '';
      default:
        return `-sh: ${command}: command not found\r\n` + this.prompt();
    }
  }
}
