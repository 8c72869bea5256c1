import { parseArgs } from 'node:util';
import { LightsoutError } from '@lightsout/shared';
import { startAgent } from './agent.js';
import { loadConfig } from './config/load.js';
import { builtinDriverFactories } from './drivers/builtin.js';
import { builtinExtensions } from './extensions.js';
import { ensureIdentity } from './identity/enroll.js';
import { loadOrCreateKeyPair } from './identity/keys.js';
import { ensureStateDir } from './identity/state.js';
import { prepareScrollbackDirectory } from './streams/scrollback-file.js';
import { createLogger } from './logger.js';

/** Exit codes (agent/README.md). */
export const AgentExit = { OK: 0, ERROR: 1, USAGE: 2, IDENTITY: 3 } as const;

const USAGE = 'usage: lightsout-agent --config <file.yaml>';

const IDENTITY_CODES = new Set(['JOIN_TOKEN_INVALID', 'JOIN_TOKEN_USED', 'JOIN_TOKEN_EXPIRED', 'AGENT_REVOKED', 'AGENT_KEY_UNKNOWN', 'DATACENTER_MISMATCH', 'FORBIDDEN', 'UNAUTHENTICATED']);

function report(error: unknown): number {
  if (error instanceof LightsoutError) {
    process.stderr.write(`error ${error.code}: ${error.message}\n`);
    if (error.hint) process.stderr.write(`hint: ${error.hint}\n`);
    if (error.code === 'CONFIG_INVALID') return AgentExit.USAGE;
    return IDENTITY_CODES.has(error.code) ? AgentExit.IDENTITY : AgentExit.ERROR;
  }
  process.stderr.write(`error INTERNAL: ${(error as Error)?.stack ?? String(error)}\n`);
  return AgentExit.ERROR;
}

export async function main(argv: string[]): Promise<number> {
  let configPath: string | undefined;
  try {
    const { values } = parseArgs({ args: argv, options: { config: { type: 'string', short: 'c' }, help: { type: 'boolean', short: 'h' } }, strict: true });
    if (values.help) {
      process.stdout.write(`${USAGE}\n`);
      return AgentExit.OK;
    }
    configPath = values.config ?? process.env['LIGHTSOUT_AGENT_CONFIG'];
  } catch (error) {
    process.stderr.write(`error BAD_REQUEST: ${(error as Error).message}\n${USAGE}\n`);
    return AgentExit.USAGE;
  }
  if (configPath === undefined) {
    process.stderr.write(`error BAD_REQUEST: no config file given\n${USAGE}\n`);
    return AgentExit.USAGE;
  }

  try {
    const config = loadConfig(configPath);
    const logger = createLogger(config.logLevel);
    if ((config.insecureRelays ?? []).length > 0) {
      logger.warn({ relays: config.insecureRelays }, 'plain http:// to a relay off loopback (allowInsecureRelay): anyone on the network path can act as the relay');
    }
    await ensureStateDir(config.stateDir);
    try {
      prepareScrollbackDirectory(config.stateDir);
    } catch (error) {
      // Not fatal: each SOL console then keeps its scrollback in memory (its hub says so).
      logger.warn({ reason: error instanceof Error ? error.message : String(error) }, 'SOL scrollback directory could not be made; consoles keep their scrollback in memory');
    }
    const { keyPair, created } = await loadOrCreateKeyPair(config.stateDir);
    if (created) logger.info({ stateDir: config.stateDir }, 'generated a new Ed25519 agent key');
    const { identity, enrolled } = await ensureIdentity({ relays: config.relays, name: config.name, stateDir: config.stateDir, joinToken: config.joinToken, keyPair });
    if (enrolled) logger.info({ agentId: identity.agentId, region: identity.region, datacenter: identity.datacenter }, 'enrolled with the relay');

    const agent = startAgent({ config, identity, keyPair, factories: builtinDriverFactories({ stateDir: config.stateDir, logger, pollIntervalMs: config.poll.intervalMs }), extensions: builtinExtensions(), logger });
    const signalled = new Promise<NodeJS.Signals>((resolve) => {
      process.once('SIGINT', () => resolve('SIGINT'));
      process.once('SIGTERM', () => resolve('SIGTERM'));
    });
    const outcome = await Promise.race([signalled.then((signal) => ({ signal })), agent.fatal.then((error) => ({ error }))]);
    await agent.stop();
    if ('error' in outcome) return report(outcome.error);
    logger.info({ signal: outcome.signal }, 'agent stopped');
    return AgentExit.OK;
  } catch (error) {
    return report(error);
  }
}
