import { Duplex } from 'node:stream';
import { LightsoutError } from '@lightsout/shared';
import { ClientHandshake, type RfbVersion } from '@lightsout/bmc-wire/rfb';

/** Bytes buffered per direction before backpressure applies. */
const HIGH_WATER_MARK = 64 * 1024;

/**
 * The user-facing end of an RFB proxy: a Duplex whose writable side takes
 * the bytes the VNC client sent and whose readable side yields the bytes for
 * the client. It first plays the server role of ClientHandshake (RFB 3.8,
 * None), then splices to the already-authenticated BMC stream untouched.
 *
 * Backpressure both ways: a full readable buffer pauses the BMC socket until
 * the consumer reads; writes complete only when the BMC socket has drained.
 * Closing either side closes both (allowHalfOpen false): a VNC session has
 * no meaningful half-close.
 */
export class RfbClientStream extends Duplex {
  private phase: 'handshake' | 'splice' = 'handshake';
  private negotiated: RfbVersion | undefined;
  private readonly handshake: ClientHandshake;

  constructor(private readonly bmc: Duplex, securityResult: Uint8Array) {
    super({ allowHalfOpen: false, readableHighWaterMark: HIGH_WATER_MARK, writableHighWaterMark: HIGH_WATER_MARK });
    this.handshake = new ClientHandshake(securityResult);
    this.push(this.handshake.opening());
    // The BMC stays paused until the client has finished its handshake; it
    // sends nothing before ClientInit anyway.
    bmc.pause();
    bmc.on('data', this.onBmcData);
    bmc.once('end', () => this.push(null));
    bmc.once('error', (error: Error) => this.destroy(new LightsoutError('BMC_UNREACHABLE', `RFB: the connection to the BMC failed: ${error.message}`, { cause: error })));
    bmc.once('close', () => {
      // A BMC that vanishes without 'end' (reset) still ends the client's stream.
      if (!this.readableEnded) this.push(null);
    });
  }

  /** Which client handshake phase we are in; 'splice' means bytes pass untouched. */
  get state(): 'handshake' | 'splice' {
    return this.phase;
  }

  /** The RFB version the client chose, once its handshake is over (e.g. '3.3' for vncsnapshot). */
  get clientVersion(): RfbVersion | undefined {
    return this.negotiated;
  }

  private readonly onBmcData = (chunk: Buffer): void => {
    if (!this.push(chunk)) this.bmc.pause();
  };

  override _read(): void {
    if (this.phase === 'splice' && this.bmc.isPaused()) this.bmc.resume();
  }

  override _write(chunk: Buffer, _encoding: BufferEncoding, callback: (error?: Error | null) => void): void {
    if (this.phase === 'splice') {
      this.writeToBmc(chunk, callback);
      return;
    }
    let step;
    try {
      step = this.handshake.receive(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
    } catch (error) {
      callback(error as Error);
      return;
    }
    for (const bytes of step.send) this.push(bytes);
    if (step.failure) {
      callback(step.failure);
      return;
    }
    if (!step.done) {
      callback();
      return;
    }
    this.phase = 'splice';
    this.negotiated = step.done.clientVersion;
    this.bmc.resume();
    if (step.done.leftover.length > 0) this.writeToBmc(Buffer.from(step.done.leftover), callback);
    else callback();
  }

  override _final(callback: (error?: Error | null) => void): void {
    this.bmc.end();
    callback();
  }

  override _destroy(error: Error | null, callback: (error?: Error | null) => void): void {
    this.bmc.off('data', this.onBmcData);
    this.bmc.destroy();
    callback(error);
  }

  private writeToBmc(chunk: Buffer, callback: (error?: Error | null) => void): void {
    if (this.bmc.write(chunk)) {
      callback();
      return;
    }
    const onDrain = (): void => {
      this.bmc.off('close', onClose);
      callback();
    };
    const onClose = (): void => {
      this.bmc.off('drain', onDrain);
      callback(new LightsoutError('BMC_UNREACHABLE', 'RFB: the BMC connection closed while writing'));
    };
    this.bmc.once('drain', onDrain);
    this.bmc.once('close', onClose);
  }
}
