import { createHash } from 'node:crypto';
import { type Clock, systemClock } from '../host/clock.js';
import { Host } from '../host/host.js';
import { RedfishService } from '../redfish/service.js';
import { RfbTcpServer } from '../rfb/tcp-server.js';
import { BmcWebServer } from '../web/server.js';
import type { TlsMaterial } from '../web/tls.js';
import { BmcWebUi } from '../web/ui.js';
import type { BmcConfig } from './config.js';
import { EventLog } from './event-log.js';

/**
 * One simulated BMC: the host behind it, its event log, and the network
 * services (Redfish + /console0 + /kvm/0 on the web port, RFB on TCP, IPMI
 * on UDP). Owns every socket it opens; `stop()` closes them all.
 */
export interface BmcListenOptions {
  address: string;
  /** 0 = any free port. */
  ipmiPort: number;
  webPort: number;
  vncPort: number;
  tls: TlsMaterial | undefined;
}

export interface BmcEndpoints {
  address: string;
  ipmiPort: number;
  webPort: number;
  vncPort: number;
  redfishUrl: string;
  vncUrl: string;
  kvmWsUrl: string;
  serialWsUrl: string;
}

export interface BmcService {
  listen(port: number, address: string): Promise<number>;
  close(): Promise<void>;
}

/** The IPMI server is plugged in by the fleet so this file does not depend on it. */
export type IpmiServerFactory = (bmc: Bmc) => BmcService;

export class Bmc {
  readonly host: Host;
  readonly eventLog: EventLog;
  readonly redfish: RedfishService;
  readonly uuid: string;
  readonly guid: Uint8Array;
  private services: BmcService[] = [];
  /** The IPMI server the factory made (tests look at its SOL state). */
  ipmiService: BmcService | undefined;
  private endpointsValue: BmcEndpoints | undefined;

  constructor(
    readonly config: BmcConfig,
    readonly clock: Clock = systemClock,
  ) {
    this.host = new Host({ hostname: config.hostname, clock, timings: config.timings });
    this.eventLog = new EventLog(() => clock.now());
    this.host.on('powerEvent', (event) => this.eventLog.add(event));
    const digest = createHash('sha256').update(`bmcsim:${config.id}:${config.seed}`).digest();
    this.guid = new Uint8Array(digest.subarray(0, 16));
    const hex = digest.subarray(0, 16).toString('hex');
    this.uuid = `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
    this.redfish = new RedfishService({ config, host: this.host, eventLog: this.eventLog, clock, uuid: this.uuid });
  }

  get endpoints(): BmcEndpoints {
    if (!this.endpointsValue) throw new Error(`BMC ${this.config.id} is not listening`);
    return this.endpointsValue;
  }

  async start(options: BmcListenOptions, ipmiFactory?: IpmiServerFactory): Promise<BmcEndpoints> {
    const web = new BmcWebServer({
      host: this.host,
      tls: options.tls,
      authorizeUpgrade: (request) => this.redfish.authorize(request) !== undefined,
      handleRequest: (request, response) => this.redfish.handle(request, response),
      vncPassword: undefined, // bmcweb's /kvm/0 is authenticated by the web session, RFB inside is None
      desktopName: this.config.hostname,
      ui: new BmcWebUi({ users: this.config.users, hostname: this.config.hostname, scheme: options.tls ? 'https' : 'http' }),
    });
    const rfb = new RfbTcpServer(() => ({ host: this.host, password: this.config.vncPassword, desktopName: this.config.hostname }));
    try {
      this.services.push(web);
      const webPort = await web.listen(options.webPort, options.address);
      this.services.push(rfb);
      const vncPort = await rfb.listen(options.vncPort, options.address);
      let ipmiPort = 0;
      if (ipmiFactory) {
        const ipmi = ipmiFactory(this);
        this.ipmiService = ipmi;
        this.services.push(ipmi);
        ipmiPort = await ipmi.listen(options.ipmiPort, options.address);
      }
      const scheme = options.tls ? 'https' : 'http';
      const webSocketScheme = options.tls ? 'wss' : 'ws';
      const authority = `${options.address}:${webPort}`;
      this.endpointsValue = {
        address: options.address,
        ipmiPort,
        webPort,
        vncPort,
        redfishUrl: `${scheme}://${authority}`,
        vncUrl: `vnc://${options.address}:${vncPort}`,
        kvmWsUrl: `${webSocketScheme}://${authority}/kvm/0`,
        serialWsUrl: `${webSocketScheme}://${authority}/console0`,
      };
    } catch (error) {
      await this.stop();
      throw error;
    }
    if (this.config.startPowered) this.host.powerOn();
    return this.endpointsValue;
  }

  async stop(): Promise<void> {
    const services = this.services.splice(0);
    await Promise.all(services.map((service) => service.close()));
    this.host.dispose();
  }
}
