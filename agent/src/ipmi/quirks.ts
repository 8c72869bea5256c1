// BMC interoperability quirks, one entry each (see ../shared protocol notes
// §1 "Interop quirks" and docs/ipmi.md). To add one: add an entry here with
// its default, read it where the behaviour lives through `quirkEnabled`, and
// add a test that fails without it.

export const QUIRKS = {
  nameOnlyLookup: {
    description: 'Set bit 4 of the RAKP 1 role byte (look the user up by name only). Without it OpenIPMI matches only a user whose privilege equals the request exactly.',
    default: true,
  },
  openSessionPrivilege: {
    description: 'FreeIPMI "opensesspriv": send the requested privilege in Open Session (not 0) and, if RAKP 2 fails its HMAC, retry once with the name-only bit flipped (Sun ILOM, Supermicro X8, Intel S2600, Dell C5220).',
    default: false,
  },
  usernamePadding: {
    description: 'Send the RAKP 1 username field as 16 NUL-padded bytes (Intel 82571 GbE BMCs).',
    default: false,
  },
  clearNameOnlyInHash: {
    description: 'Hash the RAKP role byte without bit 4 while still sending it (Intel 82571 GbE BMCs).',
    default: false,
  },
  activatePayloadAux: {
    description: 'Activate Payload SOL behaviour bits 0x08 ("serial alerts succeed while SOL is active", ipmitool i82571spt) instead of 0x00 (Intel 82571 GbE BMCs). The encryption and authentication bits still follow the session (0xC8 on suites 3 and 17).',
    default: false,
  },
  ignoreSolPort: {
    description: 'FreeIPMI "ignoresolport": stream SOL on the session\'s port whatever UDP port Activate Payload names. For a BMC reached through a port forward or proxy that names its own non-standard port (ASUS P5MT-R names one it does not use).',
    default: false,
  },
} as const satisfies Record<string, { description: string; default: boolean }>;

export type QuirkName = keyof typeof QUIRKS;
export type QuirkSettings = Partial<Record<QuirkName, boolean>>;

export function quirkEnabled(settings: QuirkSettings | undefined, name: QuirkName): boolean {
  return settings?.[name] ?? QUIRKS[name].default;
}

export function isQuirkName(name: string): name is QuirkName {
  return Object.hasOwn(QUIRKS, name);
}

/** FreeIPMI workaround flag names accepted as aliases in configuration. */
export const QUIRK_ALIASES: Record<string, QuirkName> = {
  opensesspriv: 'openSessionPrivilege',
  'name-only-lookup': 'nameOnlyLookup',
  'username-padding': 'usernamePadding',
  ignoresolport: 'ignoreSolPort',
};
