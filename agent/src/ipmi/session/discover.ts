import { LightsoutError } from '@lightsout/shared';
import {
  cipherSuiteBlock, classifyDatagram, decodeAsf, decodeCipherSuiteRecords, encodeAsf,
  getChannelCipherSuitesRequest, PRIVILEGE, type CipherSuiteRecord,
} from '@lightsout/bmc-wire/ipmi';
import { openUdpTransport, type DatagramTransport } from '../transport.js';
import { getAuthCapabilities, type AuthCapabilities } from './auth-caps.js';
import { HandshakeWaiter } from './handshake-wait.js';
import { preSessionRequest } from './pre-session.js';

export interface BmcDiscovery {
  /** ASF presence pong received with the IPMI bit (DMTF ASF 2.0 §3.2.4); false when no pong came. */
  asfPong: boolean;
  /** `rmcpPlus` is what a session makes of them: `unclear` is tried as RMCP+ (auth-caps.ts). */
  capabilities: AuthCapabilities;
  /** What Get Channel Cipher Suites lists (§22.15); empty when the BMC has no IPMI 2.0 or refuses it. */
  cipherSuites: CipherSuiteRecord[];
}

/**
 * What a BMC offers, without logging in: ASF ping, Get Channel Authentication
 * Capabilities and Get Channel Cipher Suites, all outside a session. Used for
 * diagnostics ("which suites does this BMC really take?"); sessions do not
 * need it (they negotiate by trying).
 */
export async function discoverBmc(host: string, port = 623, timeoutMs = 1000, openTransport: (host: string, port: number) => Promise<DatagramTransport> = openUdpTransport): Promise<BmcDiscovery> {
  const transport = await openTransport(host, port);
  const waiter = new HandshakeWaiter();
  transport.onDatagram((datagram) => waiter.offer(datagram));
  try {
    const pong = waiter.wait((datagram) => (classifyDatagram(datagram) === 'asf' && decodeAsf(datagram).kind === 'pong' ? decodeAsf(datagram) : undefined), timeoutMs, 'ASF ping');
    transport.send(encodeAsf({ kind: 'ping', tag: 0x4c }));
    const asfPong = await pong.then((message) => message.ipmiSupported === true, () => false);
    const capabilities = await getAuthCapabilities(transport, waiter, PRIVILEGE.administrator, timeoutMs, 1);
    const cipherSuites = capabilities.rmcpPlus !== 'absent' ? await listCipherSuites(transport, waiter, timeoutMs) : [];
    return { asfPong, capabilities, cipherSuites };
  } finally {
    waiter.cancel(new LightsoutError('BMC_PROTOCOL_ERROR', 'discovery finished'));
    await transport.close();
  }
}

/** Reads the cipher suite record list 16 bytes at a time (§22.15), at most 64 blocks. */
async function listCipherSuites(transport: DatagramTransport, waiter: HandshakeWaiter, timeoutMs: number): Promise<CipherSuiteRecord[]> {
  const blocks: Uint8Array[] = [];
  for (let index = 0; index < 64; index++) {
    const request = getChannelCipherSuitesRequest(index);
    const sequence = (index + 2) & 0x3f;
    const { completionCode, data } = await preSessionRequest(transport, waiter, request, sequence, timeoutMs, 'Get Channel Cipher Suites');
    if (completionCode !== 0) return [];
    const block = cipherSuiteBlock(data);
    blocks.push(block);
    if (block.length < 16) break;
  }
  const records = new Uint8Array(blocks.reduce((sum, block) => sum + block.length, 0));
  let offset = 0;
  for (const block of blocks) {
    records.set(block, offset);
    offset += block.length;
  }
  return decodeCipherSuiteRecords(records);
}
