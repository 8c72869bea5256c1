import { Command, InvalidArgumentError, Option } from 'commander';
import { LightsoutError } from '@lightsout/shared';
import { agentsDeleteServers, agentsList, agentsRevoke, agentsSetTenants, agentsTokenCreate, agentsTokenList, agentsTokenRevoke } from './commands/agents.js';
import { auditExport, auditSearch, auditVerify } from './commands/audit.js';
import { approvalDecide, approvalsList, policyGet, policySet } from './commands/automation.js';
import { boot, BOOT_DEVICES, identity, power, POWER_ACTIONS, sel, sensors } from './commands/bmc.js';
import { isBulk, runBulk, type SelectorOptions } from './commands/bulk.js';
import { consoleCommand, vncCommand, webCommand } from './commands/console.js';
import type { CommandContext } from './commands/context.js';
import { grantsCreate, grantsDelete, grantsList } from './commands/grants.js';
import { login, logout, whoami } from './commands/login.js';
import { type MediaMountOptions, mediaEject, mediaMount, mediaStatus } from './commands/media.js';
import { type AdoptOptions, discoveredAdopt, discoveredList, discoveredScan } from './commands/discovered.js';
import { urlPolicyGet, urlPolicySet } from './commands/media-url-policy.js';
import { serversList, serversRetryCredentials, serversShow } from './commands/servers.js';
import { sshHostKey, sshKeysAdd, sshKeysList, sshKeysRemove, sshLogin } from './commands/ssh.js';
import { tokensCreate, tokensList, tokensRevoke } from './commands/tokens.js';
import { mfaConfirm, mfaEnroll, mfaRemove } from './commands/mfa.js';
import { usersCreate, usersList, usersMfaCode, usersSetDisabled } from './commands/users.js';

export const CLI_VERSION = '0.1.0';

function positiveInteger(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed <= 0) throw new InvalidArgumentError('must be a positive whole number of seconds');
  return parsed;
}

/** The selector flags of commands that act on one server or, with a selector, on many (a bulk job). */
function withSelector(command: Command): Command {
  return command
    .option('--selector <key=value,…>', 'every server whose labels match all pairs (a bulk job; combine with the flags below)')
    .option('--ids <id,…>', 'these servers (a bulk job)')
    .option('--rack <rack>', 'servers in this rack (a bulk job)')
    .option('--datacenter <datacenter>', 'servers in this datacenter (a bulk job)')
    .option('--region <region>', 'servers in this region (a bulk job)')
    .option('--power-state <state>', 'servers whose power is on, off or unknown (a bulk job)')
    .option('--dry-run', 'list the servers the selector names; do nothing')
    .option('-y, --yes', 'do not ask for confirmation (scripts)');
}

/** One server by id, or a selector: never both, never neither. */
function target(server: string | undefined, options: SelectorOptions): 'bulk' | 'one' {
  if (isBulk(options)) {
    if (server !== undefined) throw new LightsoutError('BAD_REQUEST', 'give a server id or a selector, not both', { hint: 'e.g. lightsout power cycle --selector role=web --datacenter fra1' });
    return 'bulk';
  }
  if (server === undefined) throw new LightsoutError('BAD_REQUEST', 'name a server, or select servers with --selector, --ids, --rack, --datacenter, --region or --power-state');
  return 'one';
}

const ROLES = ['viewer', 'operator', 'tenant-admin', 'provider-admin'];

/** A token lifetime: whole seconds, at least a minute. */
function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 60) throw new InvalidArgumentError('must be a whole number of seconds, at least 60');
  return parsed;
}

const BULK_NAMES: Record<string, string> = { on: 'power on', off: 'power off', soft: 'soft off', cycle: 'power cycle', reset: 'reset' };

/** The whole command tree: every command of `lightsout`, its flags and the handler it calls. */
export function buildProgram(context: CommandContext): Command {
  const program = new Command('lightsout')
    .description('Command-line client for a Lightsout relay: log in, list servers and agents, control BMCs.')
    .version(CLI_VERSION, '-V, --version')
    .option('--relay <url>', 'relay URL (default: $LIGHTSOUT_RELAY, then the relay of the last login)')
    .exitOverride()
    .configureOutput({ writeOut: context.output.out, writeErr: context.output.err })
    .showHelpAfterError('(run with --help for usage)')
    .hook('preAction', (command) => {
      context.relayFlag = command.optsWithGlobals<{ relay?: string }>().relay;
    });

  program
    .command('login')
    .description('log in with the device authorization grant (opens nothing: prints a URL and a code)')
    .option('--max-age <seconds>', 'sign in again even with a live session older than this (0 = always; what a step-up does)', (value: string) => {
      const parsed = Number(value);
      if (!Number.isInteger(parsed) || parsed < 0) throw new InvalidArgumentError('must be a whole number of seconds');
      return parsed;
    })
    .action((options: { maxAge?: number }) => login(context, options.maxAge === undefined ? {} : { maxAge: options.maxAge }));
  program.command('logout').description('forget the stored login').option('--all', 'forget the logins to every relay').action((options: { all?: boolean }) => logout(context, options));
  program.command('whoami').description('show who the stored login is').option('--json', 'print JSON').action((options: { json?: boolean }) => whoami(context, options));

  const servers = program.command('servers').description('servers (BMCs) registered by agents');
  servers.command('list').description('list the servers you can see').option('--json', 'print JSON ({"servers": […]})').action((options: { json?: boolean }) => serversList(context, options));
  servers
    .command('show')
    .description("one server's details, with the agent's link to its BMC (negotiated protocol and cipher suite, credentials rejected)")
    .argument('<server>', 'server id')
    .option('--json', 'print JSON')
    .action((server: string, options: { json?: boolean }) => serversShow(context, server, options));
  servers
    .command('retry-credentials')
    .description('make the agent log in to a BMC that rejected its credentials now, not at the end of its hold-off (tenant admin)')
    .argument('<server>', 'server id')
    .option('--json', 'print JSON')
    .action((server: string, options: { json?: boolean }) => serversRetryCredentials(context, server, options));

  const agents = program.command('agents').description('agents (one per datacenter)');
  agents.command('list').description('list agents and whether they are connected').option('--json', 'print JSON ({"agents": […]})').action((options: { json?: boolean }) => agentsList(context, options));
  agents
    .command('revoke')
    .description('revoke an agent (provider admin): disconnects it and refuses its key from now on')
    .argument('<agent>', 'agent id (see `agents list`)')
    .option('--json', 'print JSON')
    .action((agent: string, options: { json?: boolean }) => agentsRevoke(context, agent, options));
  agents
    .command('delete-servers')
    .description("delete the servers a revoked agent registered (provider admin); refused while the agent is not revoked")
    .argument('<agent>', 'agent id (see `agents list`)')
    .option('--json', 'print JSON ({"removed": […]})')
    .action((agent: string, options: { json?: boolean }) => agentsDeleteServers(context, agent, options));
  agents
    .command('tenants')
    .description("set the tenants an agent may register servers into (provider admin); its servers in other tenants are deleted at once")
    .argument('<agent>', 'agent id (see `agents list`)')
    .requiredOption('--tenant <tenant>', 'a tenant (repeatable; at least one)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--json', 'print JSON')
    .action((agent: string, options: { tenant: string[]; json?: boolean }) => agentsSetTenants(context, agent, options));
  const token = agents.command('token').description('join tokens for enrolling new agents');
  token
    .command('create')
    .description('create a one-time join token (provider admin)')
    .requiredOption('--region <region>', 'region slug, e.g. eu-central')
    .requiredOption('--datacenter <datacenter>', 'datacenter slug, e.g. fra1')
    .option('--ttl <seconds>', 'lifetime in seconds (60–86400; relay default otherwise)', positiveInteger)
    .requiredOption('--tenant <tenant>', 'a tenant the agent may register servers into (repeatable; at least one)', (value: string, previous: string[] = []) => [...previous, value])
    .option('--json', 'print JSON')
    .action((options: { region: string; datacenter: string; ttl?: number; tenant: string[]; json?: boolean }) => agentsTokenCreate(context, options));
  token.command('list').description('list join tokens: pending, used (by which agent) or expired; never their value (provider admin)').option('--json', 'print JSON').action((options: { json?: boolean }) => agentsTokenList(context, options));
  token
    .command('revoke')
    .description('revoke a join token not used yet (provider admin)')
    .argument('<id>', 'the id `token list` shows (or a unique prefix)')
    .option('--json', 'print JSON')
    .action((id: string, options: { json?: boolean }) => agentsTokenRevoke(context, id, options));
  const discovered = program.command('discovered').description("BMCs the agents found on their out-of-band networks (provider admin)");
  discovered
    .command('list')
    .description('list discovered BMCs: address, protocols, vendor, model, UUID, adopted as')
    .option('--agent <agent>', 'one agent (id or name)')
    .option('--unadopted', 'only BMCs nobody adopted yet')
    .option('--json', 'print JSON ({"discovered": […]})')
    .action((options: { agent?: string; unadopted?: boolean; json?: boolean }) => discoveredList(context, options));
  discovered
    .command('scan')
    .description("have an agent scan its configured ranges now (the findings arrive when it is done)")
    .requiredOption('--agent <agent>', 'agent id or name')
    .option('--json', 'print JSON')
    .action((options: { agent: string; json?: boolean }) => discoveredScan(context, options));
  discovered
    .command('adopt')
    .description('make a discovered BMC a server of a tenant')
    .argument('<address>', 'its address (see `discovered list`), or its id')
    .requiredOption('--name <name>', 'the server name')
    .requiredOption('--tenant <tenant>', 'the tenant it joins (the agent must be bound to it)')
    .requiredOption('--credentials <id>', "the id of a credential set in the agent's config")
    .option('--agent <agent>', 'the agent that found it (needed when several found the address)')
    .option('--id <serverId>', 'the server id (default: the name)')
    .option('--rack <rack>', 'the rack (default: discovered)')
    .option('--json', 'print JSON')
    .action((address: string, options: AdoptOptions) => discoveredAdopt(context, address, options));

  withSelector(
    program
      .command('power')
      .description('read or change the power state of a server, or with a selector of many (one bulk job: count, confirmation, progress, a per-server table)')
      .addArgument(new Command().createArgument('<action>', 'what to do').choices(POWER_ACTIONS))
      .argument('[server]', 'server id (or use a selector)')
      .option('--no-wait', 'return once the BMC accepted the action, without waiting for it to take effect')
      .option('--json', 'print JSON'),
  ).action((action: string, server: string | undefined, options: SelectorOptions & { wait?: boolean }) => {
    if (target(server, options) === 'one') return power(context, action, server!, options);
    if (action === 'status') return runBulk(context, { kind: 'sensors.read' }, 'read sensors', { ...options, dryRun: true });
    return runBulk(context, { kind: 'power', action: action as 'on' }, BULK_NAMES[action]!, options);
  });
  withSelector(
    program
      .command('boot')
      .description('set (or show, with `status`) the boot device override of a server, or with a selector set it on many')
      .addArgument(new Command().createArgument('<device>', 'boot device').choices(BOOT_DEVICES))
      .argument('[server]', 'server id (or use a selector)')
      .option('--persistent', 'keep the override for every boot, not only the next one')
      .addOption(new Option('--uefi', 'boot in UEFI mode').conflicts('legacy'))
      .addOption(new Option('--legacy', 'boot in Legacy (BIOS) mode').conflicts('uefi'))
      .addOption(new Option('--json', 'print JSON')),
  ).action((device: string, server: string | undefined, options: SelectorOptions & { persistent?: boolean; uefi?: boolean; legacy?: boolean }) => {
    if (target(server, options) === 'one') return boot(context, device, server!, options);
    if (device === 'status') throw new LightsoutError('BAD_REQUEST', 'boot status reads one server', { hint: 'lightsout boot status <server>' });
    const operation = { kind: 'boot' as const, device: device as 'pxe', persistent: options.persistent === true, ...(options.uefi ? { uefi: true } : options.legacy ? { uefi: false } : {}) };
    return runBulk(context, operation, `boot ${device}`, options);
  });
  program.command('sensors').description('read the sensors of a server').argument('<server>', 'server id').option('--json', 'print JSON').action((server: string, options: { json?: boolean }) => sensors(context, server, options));
  program.command('identity').description('what the BMC says the server is: vendor, model, serial, BMC firmware, BIOS').argument('<server>', 'server id').option('--json', 'print JSON').action((server: string, options: { json?: boolean }) => identity(context, server, options));
  program.command('sel').description('read the system event log of a server').argument('<server>', 'server id').option('--json', 'print JSON').action((server: string, options: { json?: boolean }) => sel(context, server, options));
  program
    .command('console')
    .description('attach the SOL or serial console of a server to this terminal (~. leave, ~B break, ~? help); resumes after a network drop')
    .argument('<server>', 'server id')
    .option('--sol', 'use SOL even if a serial console exists')
    .option('--serial', 'use the serial console (WebSocket/TCP) instead of SOL')
    .option('--view', 'read-only: watch without typing (ask for control with a new session)')
    .option('--takeover', "SOL: if another session holds the BMC's SOL (e.g. ipmitool sol activate), end it and take the console (audited)")
    .action((server: string, options: { sol?: boolean; serial?: boolean; view?: boolean; takeover?: boolean }) =>
      consoleCommand(context, server, { ...(options.serial ? { kind: 'serial' as const } : options.sol ? { kind: 'sol' as const } : {}), ...(options.view ? { view: true } : {}), ...(options.takeover ? { takeover: true } : {}) }),
    );
  program
    .command('vnc')
    .description("a server's graphical (VNC) console: print its web console URL, or serve it to your own VNC client with --listen")
    .argument('<server>', 'server id')
    .option('--open', 'also open the web console URL in the default browser')
    .option('--listen <[addr:]port>', 'serve the console on a local port (loopback unless an address is given) to any VNC client, security None; 0 picks a free port')
    .option('--view-only', 'with --listen: drop every key, pointer and clipboard message of the local VNC clients')
    .option('--allow-remote', 'with --listen: allow a non-loopback address (anyone reaching it gets the console as you)')
    .action((server: string, options: { open?: boolean; listen?: string; viewOnly?: boolean; allowRemote?: boolean }) => vncCommand(context, server, options));
  program
    .command('web')
    .description("a server's BMC web UI (iDRAC, iLO, bmcweb…) through the agent: print its one-time launch URL")
    .argument('<server>', 'server id')
    .option('--open', 'also open it in the default browser')
    .action((server: string, options: { open?: boolean }) => webCommand(context, server, options));
  const media = program.command('media').description('virtual media: boot a server from an ISO (needs Redfish on the BMC)');
  media
    .command('mount')
    .description('upload an ISO (resumable) and mount it, or have the agent fetch it from an http(s) URL; with --boot also boot-once from it and reset the server')
    .argument('<server>', 'server id')
    .argument('<file>', "ISO image, or an http(s) URL to a host the tenant's media URL policy allows")
    .option('--sha256 <hex>', 'with a URL: the SHA-256 the image must have')
    .option('--boot', 'set boot-once to the virtual CD and reset (or power on) the server')
    .option('--replace', 'eject an image someone else inserted in the virtual CD first (without it, such a mount is refused)')
    .option('--no-wait', 'return once the relay accepted the mount instead of following it')
    .option('--json', 'print the final state as JSON')
    .action((server: string, file: string, options: MediaMountOptions) => mediaMount(context, server, file, options));
  media.command('eject').description('eject the virtual media of a server').argument('<server>', 'server id').option('--json', 'print JSON').action((server: string, options: { json?: boolean }) => mediaEject(context, server, options));
  media.command('status').description('which image is mounted on a server, since when, by whom').argument('<server>', 'server id').option('--json', 'print JSON').action((server: string, options: { json?: boolean }) => mediaStatus(context, server, options));
  const urlPolicy = media.command('url-policy').description("which hosts this tenant's agents may fetch images from (mount by URL; tenant admins)");
  urlPolicy
    .command('get')
    .description('show the media URL policy')
    .option('--tenant <tenant>', 'another tenant (provider admins)')
    .option('--json', 'print JSON')
    .action((options: { tenant?: string; json?: boolean }) => urlPolicyGet(context, options));
  urlPolicy
    .command('set')
    .description('replace the media URL policy (an empty --allow "" allows nothing)')
    .requiredOption('--allow <entries>', 'comma-separated host names, *.domains, IP addresses or CIDR blocks')
    .option('--max-bytes <bytes>', 'largest image fetched by URL (default: the relay upload limit)')
    .option('--tenant <tenant>', 'another tenant (provider admins)')
    .option('--json', 'print JSON')
    .action((options: { allow: string; maxBytes?: string; tenant?: string; json?: boolean }) => urlPolicySet(context, options));

  // audit, tokens, users, grants: the administration commands
  const audit = program.command('audit').description('the hash-chained audit log (tenant admins: their tenant; provider admins: all)');
  audit.command('export').description('print the audit log as JSON lines (for a SIEM)').action(() => auditExport(context));
  audit
    .command('search')
    .description('records newest first, narrowed by who acted, the server, the action and the time')
    .option('--user <username>', 'who acted')
    .option('--server <id>', 'the server acted on')
    .option('--action <action>', 'an action (grant.create) or its family (grant)')
    .option('--since <time>', 'from this time on (ISO 8601, e.g. 2026-03-01T08:00Z)')
    .option('--until <time>', 'before this time (ISO 8601)')
    .option('--limit <n>', 'at most this many records (1–1000, default 50)', positiveInteger)
    .option('--json', 'print the page as JSON')
    .action((options: { user?: string; server?: string; action?: string; since?: string; until?: string; limit?: number; json?: boolean }) => auditSearch(context, options));
  audit
    .command('verify')
    .description('check the hash chain of the live log or of an export; exits non-zero on any tampering')
    .option('--file <export.jsonl>', 'verify this export instead of the live log')
    .option('--partial', 'the file is one tenant\'s slice (a tenant admin\'s export): check each record, not the links')
    .option('--json', 'print the verdict as JSON')
    .action((options: { file?: string; partial?: boolean; json?: boolean }) => auditVerify(context, options));

  const tokens = program.command('tokens').description('API tokens: service accounts for automation (tenant admins)');
  tokens
    .command('create')
    .description('create a token; the secret is printed once on stdout (use it as LIGHTSOUT_TOKEN)')
    .argument('<name>', 'what it is for, e.g. "ci-reboots"')
    .requiredOption('--role <role>', `role of the service account (${ROLES.join(', ')})`)
    .option('--ttl <seconds>', 'lifetime (default 30 days, at most 366 days)', seconds)
    .option('--tenant <tenant>', 'provider admins: the tenant it belongs to')
    .option('--json', 'print JSON')
    .action((name: string, options: { role: string; ttl?: number; tenant?: string; json?: boolean }) => tokensCreate(context, name, options));
  tokens.command('list').description('list the tenant\'s tokens (never their secrets)').option('--tenant <tenant>', 'provider admins: another tenant').option('--json', 'print JSON').action((options: { tenant?: string; json?: boolean }) => tokensList(context, options));
  tokens.command('revoke').description('revoke a token at once (its live console sessions end too)').argument('<id>', 'token id (tok_…)').option('--json', 'print JSON').action((id: string, options: { json?: boolean }) => tokensRevoke(context, id, options));

  const users = program.command('users').description('users of your tenant (tenant admins)');
  users.command('list').description('list users').option('--tenant <tenant>', 'provider admins: another tenant').option('--json', 'print JSON').action((options: { tenant?: string; json?: boolean }) => usersList(context, options));
  users
    .command('create')
    .description('create a user; the password comes from LIGHTSOUT_NEW_PASSWORD (never the command line)')
    .argument('<username>', 'login name')
    .requiredOption('--role <role>', `role (${ROLES.join(', ')}; never above your own)`)
    .option('--tenant <tenant>', 'provider admins: the tenant')
    .option('--json', 'print JSON')
    .action((username: string, options: { role: string; tenant?: string; json?: boolean }) => usersCreate(context, username, options));
  users.command('disable').description('disable a user: refused at once, live consoles end').argument('<id>', 'user id (see `users list`)').option('--json', 'print JSON').action((id: string, options: { json?: boolean }) => usersSetDisabled(context, id, true, options));
  users.command('enable').description('enable a disabled user').argument('<id>', 'user id').option('--json', 'print JSON').action((id: string, options: { json?: boolean }) => usersSetDisabled(context, id, false, options));
  users
    .command('mfa-code')
    .description('issue a one-time second-factor enrollment code for a user (needed in a tenant that requires MFA); printed once on stdout, valid 24 h')
    .argument('<id>', 'user id (see `users list`)')
    .option('--json', 'print JSON')
    .action((id: string, options: { json?: boolean }) => usersMfaCode(context, id, options));

  const mfa = program.command('mfa').description('your own second factor (TOTP)');
  mfa
    .command('enroll')
    .description('start enrolling an authenticator app: needs LIGHTSOUT_PASSWORD (your password, again) and, in an MFA tenant, LIGHTSOUT_MFA_ENROLLMENT_CODE from your admin; prints the otpauth:// URI')
    .option('--json', 'print JSON ({secret, otpauthUri})')
    .action((options: { json?: boolean }) => mfaEnroll(context, options));
  mfa.command('confirm').description('finish the enrollment with the code the app shows').argument('<code>', '6 digits').option('--json', 'print JSON').action((code: string, options: { json?: boolean }) => mfaConfirm(context, code, options));
  mfa.command('remove').description('remove your second factor (needs a recent sign-in with it)').action(() => mfaRemove(context));

  const grants = program.command('grants').description('narrow a user to a server group inside the tenant (tenant admins); a user without grants sees the whole tenant');
  grants.command('list').description('list grants').option('--tenant <tenant>', 'provider admins: another tenant').option('--json', 'print JSON').action((options: { tenant?: string; json?: boolean }) => grantsList(context, options));
  grants
    .command('create')
    .description('grant a user a rack, a label or a list of servers (grants add up)')
    .argument('<user-id>', 'user id (see `users list`)')
    .option('--rack <rack>', 'every server in this rack')
    .option('--label <key=value>', 'every server with this label')
    .option('--servers <ids>', 'comma-separated server ids')
    .option('--json', 'print JSON')
    .action((userId: string, options: { rack?: string; label?: string; servers?: string; json?: boolean }) => grantsCreate(context, userId, options));
  grants.command('delete').description('delete a grant').argument('<id>', 'grant id').action((id: string) => grantsDelete(context, id));

  // ssh-keys (the user's own keys) and ssh host-key
  const keys = program.command('ssh-keys').description('your SSH public keys for the SSH front door (ssh <server>@relay)');
  keys
    .command('add')
    .description('register a public key (ed25519, ECDSA, RSA of 2048 bits or more)')
    .argument('<file.pub>', 'the public key file, e.g. ~/.ssh/id_ed25519.pub (- for stdin)')
    .option('--name <name>', 'a name for it (default: the key\'s comment)')
    .option('--json', 'print JSON')
    .action((path: string, options: { name?: string; json?: boolean }) => sshKeysAdd(context, path, options));
  keys.command('list').description('list your keys with their SHA256 fingerprints').option('--json', 'print JSON').action((options: { json?: boolean }) => sshKeysList(context, options));
  keys.command('remove').description('remove (revoke) a key; its live SSH connections end').argument('<id>', 'key id (sshk_…, see `ssh-keys list`)').option('--json', 'print JSON').action((id: string, options: { json?: boolean }) => sshKeysRemove(context, id, options));

  const ssh = program.command('ssh').description('the SSH front door');
  ssh
    .command('host-key')
    .description('the relay\'s SSH host key fingerprint, to compare with what ssh shows on first connect')
    .option('--known-hosts', 'print a known_hosts line instead')
    .option('--json', 'print JSON')
    .action((options: { json?: boolean; knownHosts?: boolean }) => sshHostKey(context, options));
  ssh
    .command('login')
    .description("get a short-lived SSH certificate from the relay's CA for an Ed25519 key (made in the CLI's config directory unless --key); ssh -i KEY then logs in with it")
    .option('--key <path>', 'an Ed25519 private key whose .pub lies beside it; the certificate is written as <path>-cert.pub')
    .option('--json', 'print JSON')
    .action((options: { key?: string; json?: boolean }) => sshLogin(context, options));

  // automation: the tenant's MCP policy and the approvals it asks for (docs/automation.md)
  const automation = program.command('automation').description('the MCP endpoint\'s tenant policy and approvals (tenant admins)');
  const policy = automation.command('policy').description('which tools the MCP endpoint offers, which console lines, which actions wait for approval');
  policy.command('get').description('print the policy as JSON').option('--tenant <tenant>', 'another tenant (provider admins)').action((options: { tenant?: string }) => policyGet(context, options));
  policy
    .command('set')
    .description('replace the policy with a JSON file (- for stdin)')
    .argument('<file.json>', 'the policy (see docs/automation.md)')
    .option('--tenant <tenant>', 'another tenant (provider admins)')
    .option('--json', 'print JSON')
    .action((path: string, options: { tenant?: string; json?: boolean }) => policySet(context, path, options));
  automation
    .command('approvals')
    .description('tool calls waiting for approval')
    .option('--status <status>', 'pending (default), approved, denied, used, expired')
    .option('--tenant <tenant>', 'another tenant (provider admins)')
    .option('--json', 'print JSON')
    .action((options: { tenant?: string; status?: string; json?: boolean }) => approvalsList(context, options));
  for (const verb of ['approve', 'deny'] as const) {
    automation
      .command(verb)
      .description(`${verb} a waiting tool call (not your own)`)
      .argument('<id>', 'the approval id the tool call answered with')
      .option('--tenant <tenant>', 'another tenant (provider admins)')
      .option('--json', 'print JSON')
      .action((id: string, options: { tenant?: string; json?: boolean }) => approvalDecide(context, verb, id, options));
  }
  return program;
}
