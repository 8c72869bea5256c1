import { EventEmitter } from 'node:events';
import { type Clock, type ClockTimer, systemClock } from './clock.js';
import { Shell } from './shell.js';
import { TextScreen } from './text-screen.js';

/**
 * The simulated server behind a BMC. Power follows an explicit state machine:
 *
 *   off ──on──▶ post ──(postMs)──▶ booting ──(bootMs)──▶ running
 *    ▲            │ reset restarts POST from any powered state │
 *    └──hard off (any state, immediate)──┘   soft off: running/post/booting
 *                                           ──▶ shutting-down ──(shutdownMs)──▶ off
 *
 * Every byte the host "prints" goes out as one `serial` event and into the
 * text screen, so SOL, /console0 and KVM stay coherent. The only timers are
 * the power sequence's own; an idle host (off or running) has none.
 */

export type HostPowerState = 'off' | 'post' | 'booting' | 'running' | 'shutting-down';
export type BootDevice = 'none' | 'pxe' | 'disk' | 'cd' | 'usb' | 'bios' | 'floppy' | 'diag' | 'safe';

export interface BootOverride {
  device: BootDevice;
  /** false = once: cleared when the next boot consumes it. */
  persistent: boolean;
  uefi: boolean;
}

export interface VirtualMediaImage {
  name: string;
  url: string;
  bytes: number;
}

export interface HostTimings {
  postMs: number;
  bootMs: number;
  shutdownMs: number;
  /** Off time in a power cycle. */
  cycleMs: number;
}

export interface HostOptions {
  hostname: string;
  clock?: Clock;
  timings?: Partial<HostTimings>;
}

export type PowerEvent = 'power-on' | 'power-off' | 'soft-off' | 'reset' | 'power-cycle';

export interface HostEvents {
  serial: [bytes: Uint8Array];
  power: [state: HostPowerState];
  /** Something a BMC writes to its event log. */
  powerEvent: [event: PowerEvent];
  /** The BMC began reading an image for its virtual CD (benchmarks time the fetch from here to `mediaInserted`). */
  mediaFetch: [url: string];
  /** The BMC has read all of the image and shows it inserted. */
  mediaInserted: [image: VirtualMediaImage];
}

export const DEFAULT_TIMINGS: HostTimings = { postMs: 800, bootMs: 1200, shutdownMs: 3000, cycleMs: 1000 };

const encoder = new TextEncoder();

export class Host extends EventEmitter<HostEvents> {
  readonly hostname: string;
  readonly screen = new TextScreen();
  readonly timings: HostTimings;
  private readonly clock: Clock;
  private readonly shell: Shell;
  private state: HostPowerState = 'off';
  private timer: ClockTimer | undefined;
  private override: BootOverride = { device: 'none', persistent: false, uefi: false };
  private media: VirtualMediaImage | undefined;
  private poweredAt = 0;
  private boots = 0;

  constructor(options: HostOptions) {
    super();
    // SOL, up to 32 /console0 and 4 /kvm/0 sessions, and RFB clients all listen to one host.
    this.setMaxListeners(64);
    this.hostname = options.hostname;
    this.clock = options.clock ?? systemClock;
    this.timings = { ...DEFAULT_TIMINGS, ...options.timings };
    this.shell = new Shell({
      hostname: this.hostname,
      uptimeSeconds: () => Math.floor((this.clock.now() - this.poweredAt) / 1000),
      poweroff: () => this.softOff(),
      reboot: () => this.reset(),
    });
  }

  get powerState(): HostPowerState {
    return this.state;
  }

  /** Chassis power as a BMC reports it: everything but `off` draws power. */
  get poweredOn(): boolean {
    return this.state !== 'off';
  }

  get bootCount(): number {
    return this.boots;
  }

  get bootOverride(): BootOverride {
    return { ...this.override };
  }

  setBootOverride(override: BootOverride): void {
    this.override = { ...override };
  }

  get virtualMedia(): VirtualMediaImage | undefined {
    return this.media;
  }

  /** The BMC is about to read `url` (InsertMedia, or a PATCH of Image). */
  fetchingMedia(url: string): void {
    this.emit('mediaFetch', url);
  }

  insertMedia(image: VirtualMediaImage): void {
    this.media = { ...image };
    this.emit('mediaInserted', { ...image });
  }

  ejectMedia(): void {
    this.media = undefined;
  }

  powerOn(): void {
    if (this.state !== 'off') return;
    this.poweredAt = this.clock.now();
    this.emit('powerEvent', 'power-on');
    this.startPost();
  }

  /** Hard off: immediate, from any state. */
  powerOff(): void {
    if (this.state === 'off') return;
    this.emit('powerEvent', 'power-off');
    this.enterOff();
  }

  /** ACPI soft off: the OS takes `shutdownMs` to go down. */
  softOff(): void {
    if (this.state === 'off' || this.state === 'shutting-down') return;
    this.emit('powerEvent', 'soft-off');
    this.setState('shutting-down');
    this.print('\r\nACPI: power button pressed\r\nStopping services... ');
    this.schedule(this.timings.shutdownMs, () => {
      this.print('done.\r\nreboot: Power down\r\n');
      this.enterOff();
    });
  }

  /** Warm reset: back to POST without dropping power. No effect when off. */
  reset(): void {
    if (this.state === 'off') return;
    this.emit('powerEvent', 'reset');
    this.startPost();
  }

  /** Off, then on again after `cycleMs`; from off it simply powers on. */
  powerCycle(): void {
    if (this.state === 'off') {
      this.powerOn();
      return;
    }
    this.emit('powerEvent', 'power-cycle');
    this.enterOff();
    this.schedule(this.timings.cycleMs, () => this.powerOn());
  }

  /** Bytes typed at the host's console (SOL, /console0, KVM keyboard). */
  type(bytes: Uint8Array): void {
    if (this.state !== 'running' || bytes.length === 0) return;
    const output = this.shell.input(bytes);
    if (output.length > 0) this.emitSerial(output);
  }

  /**
   * Bytes the host's UART sends regardless of the shell (a kernel message, a
   * test pattern), like the lab's FIFO into the fake host's console.
   */
  writeConsole(bytes: Uint8Array): void {
    if (this.state === 'off' || bytes.length === 0) return;
    this.emitSerial(bytes);
  }

  /** Stops the power sequence timer; the host stays in its current state. */
  dispose(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.removeAllListeners();
  }

  private startPost(): void {
    this.boots++;
    this.screen.reset();
    this.setState('post');
    this.print('\x1b[2J\x1b[H\x1b[1;37;44m bmcsim BIOS 1.0  (c) Lightsout simulated hardware \x1b[0m\r\n');
    this.print(`Host: ${this.hostname}   Boot #${this.boots}\r\n`);
    this.print('CPU: Simulated x86-64 @ 2.40GHz, 16 cores\r\nMemory test: 65536 MB OK\r\n');
    this.print('Press F2 for setup, F12 for network boot\r\n');
    this.schedule(this.timings.postMs, () => this.startBoot());
  }

  private startBoot(): void {
    this.setState('booting');
    const device = this.consumeBootDevice();
    if (this.media) this.print(`Virtual media: ${this.media.name} (${this.media.bytes} bytes)\r\n`);
    this.print(this.bootMessage(device));
    this.print('Loading Linux 6.1.0-bmcsim ...\r\n');
    this.schedule(this.timings.bootMs, () => {
      this.setState('running');
      this.print(`[    2.000000] systemd[1]: Reached target Multi-User System.\r\n`);
      this.emitSerial(this.shell.loginPrompt());
    });
  }

  /** Once-overrides are spent by the boot that uses them (IPMI v2.0 §28.12, DSP0266 Boot). */
  private consumeBootDevice(): BootDevice {
    const device = this.override.device;
    if (device !== 'none' && !this.override.persistent) this.override = { ...this.override, device: 'none' };
    if (device !== 'none') return device;
    return this.media ? 'cd' : 'disk';
  }

  private bootMessage(device: BootDevice): string {
    switch (device) {
      case 'cd':
        return this.media ? `Booting from virtual CD: ${this.media.name}\r\n` : 'Boot device CD: no media present, falling back to disk\r\nBooting from disk\r\n';
      case 'pxe':
        return 'Booting from PXE: DHCP on eth0... lease 10.0.0.42\r\n';
      case 'bios':
        return 'Entering BIOS setup (boot override), continuing to disk\r\nBooting from disk\r\n';
      case 'usb':
        return 'Booting from USB\r\n';
      case 'floppy':
        return 'Booting from floppy\r\n';
      case 'diag':
        return 'Booting diagnostic partition\r\n';
      case 'safe':
        return 'Booting from disk (safe mode)\r\n';
      default:
        return 'Booting from disk\r\n';
    }
  }

  private enterOff(): void {
    this.timer?.cancel();
    this.timer = undefined;
    this.screen.reset();
    this.setState('off');
  }

  private schedule(milliseconds: number, step: () => void): void {
    this.timer?.cancel();
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      step();
    }, milliseconds);
  }

  private setState(state: HostPowerState): void {
    if (this.state === state) return;
    this.state = state;
    this.emit('power', state);
  }

  private print(text: string): void {
    this.emitSerial(encoder.encode(text));
  }

  private emitSerial(bytes: Uint8Array): void {
    this.screen.write(bytes);
    this.emit('serial', bytes);
  }
}
