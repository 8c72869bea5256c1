// lan.conf for the lab's ipmi_sim (OpenIPMI lanserv, ipmi_lan(5)), generated
// per instance because every port is chosen free at start.

export interface IpmiSimUser {
  name: string;
  password: string;
  privilege: 'user' | 'operator' | 'admin';
}

export const IPMI_SIM_USERS: readonly IpmiSimUser[] = [
  { name: 'admin', password: 'adminpass', privilege: 'admin' },
  { name: 'operator', password: 'operpass', privilege: 'operator' },
  { name: 'viewer', password: 'viewpass', privilege: 'user' },
];

export interface IpmiSimConfigOptions {
  name: string;
  /** Address of the LAN channel. Default 127.0.0.1. */
  address?: string;
  lanPort: number;
  vmPort: number;
  uartPort: number;
  /** Shell command ipmi_sim execs on power-on; power = this process alive. */
  startCommand: string;
  poweredAtStart: boolean;
  /** Absolute path of the built plug-in, or undefined to run stock ipmi_sim. */
  pluginPath: string | undefined;
}

export function ipmiSimConfig(options: IpmiSimConfigOptions): string {
  const quote = (text: string) => `"${text.replace(/(["\\])/g, '\\$1')}"`;
  return [
    `name ${quote(options.name)}`,
    options.pluginPath === undefined ? '' : `loadlib ${quote(options.pluginPath)} ""`,
    'set_working_mc 0x20',
    '  startlan 1',
    `    addr ${options.address ?? '127.0.0.1'} ${options.lanPort}`,
    '    priv_limit admin',
    // "none" is left out on purpose: v1.5 sessions must authenticate.
    '    allowed_auths_callback md5 md2 straight',
    '    allowed_auths_user md5 md2 straight',
    '    allowed_auths_operator md5 md2 straight',
    '    allowed_auths_admin md5 md2 straight',
    // Without a GUID ipmi_sim does not offer RMCP+.
    '    guid "LIGHTSOUT-LAB-01"',
    '  endlan',
    `  serial 15 127.0.0.1 ${options.vmPort} codec VM`,
    `  startcmd ${quote(options.startCommand)}`,
    `  startnow ${options.poweredAtStart ? 'true' : 'false'}`,
    '  poweroff_wait 5',
    '  kill_wait 2',
    `  sol "tcp:127.0.0.1:${options.uartPort}" 115200`,
    '  user 1 false "" "" user 1',
    ...IPMI_SIM_USERS.map((user, index) => `  user ${index + 2} true ${quote(user.name)} ${quote(user.password)} ${user.privilege} 10`),
    '',
  ].join('\n');
}
