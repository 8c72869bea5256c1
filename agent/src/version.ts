import agentPackage from '../package.json' with { type: 'json' };

/** The agent's version as its package declares it, sent in every hello so the relay can show it (inlined in the compiled agent). */
export const AGENT_VERSION: string = agentPackage.version;
