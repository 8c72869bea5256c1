import { type Command, InvalidArgumentError } from 'commander';
import type { CommandContext } from './context.js';
import { auditExport, auditVerify, grantsCreate, grantsDelete, grantsList, tokensCreate, tokensList, tokensRevoke, usersCreate, usersList, usersSetDisabled } from './security.js';

const ROLES = ['viewer', 'operator', 'tenant-admin', 'provider-admin'];

function seconds(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 60) throw new InvalidArgumentError('must be a whole number of seconds, at least 60');
  return parsed;
}

/** `audit …`, `tokens …`, `users …`: the administration commands. */
export function registerSecurityCommands(program: Command, context: CommandContext): void {
  const audit = program.command('audit').description('the hash-chained audit log (tenant admins: their tenant; provider admins: all)');
  audit.command('export').description('print the audit log as JSON lines (for a SIEM)').action(() => auditExport(context));
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
}
