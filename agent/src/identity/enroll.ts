import { LightsoutError, type AgentEnroll, type AgentEnrolled } from '@lightsout/shared';
import type { AgentKeyPair } from './keys.js';
import { readIdentity, writeIdentity, type AgentIdentity } from './state.js';

const ENROLL_TIMEOUT_MS = 15_000;

/** What to tell an operator for each refusal: enrollment never retries by itself. */
const ENROLL_HINTS: Partial<Record<string, string>> = {
  JOIN_TOKEN_USED: 'a join token works once: create a new one with `lightsout agents token create --region R --datacenter D --tenant T`',
  JOIN_TOKEN_EXPIRED: 'create a new join token with `lightsout agents token create --region R --datacenter D --tenant T` and start the agent within its TTL',
  JOIN_TOKEN_INVALID: 'check that the join token was copied whole and belongs to this relay',
};

function isEnrolled(value: unknown): value is AgentEnrolled {
  if (typeof value !== 'object' || value === null) return false;
  const record = value as Record<string, unknown>;
  return ['agentId', 'region', 'datacenter', 'audience'].every((key) => typeof record[key] === 'string');
}

/** `POST /v1/agents/enroll`: trades the one-time join token for an identity bound to our key. */
export async function enroll(relay: string, request: AgentEnroll): Promise<AgentEnrolled> {
  let response: Response;
  try {
    response = await fetch(`${relay}/v1/agents/enroll`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify(request),
      signal: AbortSignal.timeout(ENROLL_TIMEOUT_MS),
    });
  } catch (error) {
    throw new LightsoutError('RELAY_UNREACHABLE', `cannot reach the relay at ${relay} to enroll: ${(error as Error).message}`, {
      hint: 'check the relay URL in the agent config and that the relay is running',
      cause: error,
    });
  }
  const body: unknown = await response.json().catch(() => undefined);
  if (!response.ok) {
    const refused = LightsoutError.fromBody(body);
    const hint = refused.hint ?? ENROLL_HINTS[refused.code];
    throw new LightsoutError(refused.code, `enrollment refused: ${refused.message}`, hint === undefined ? {} : { hint });
  }
  if (!isEnrolled(body)) throw new LightsoutError('INTERNAL', 'the relay answered the enrollment without an agent identity');
  return body;
}

/**
 * The identity to connect with: the stored one, or a new enrollment when the
 * state dir has none. An identity belongs to the deployment (the relays that
 * share its store), not to one URL: the agent enrolls once and connects to
 * any gateway of its list with it. Enrollment goes to the first gateway that
 * answers.
 */
export async function ensureIdentity(options: {
  relays: readonly string[];
  name: string;
  stateDir: string;
  joinToken: string | undefined;
  keyPair: AgentKeyPair;
}): Promise<{ identity: AgentIdentity; enrolled: boolean }> {
  const stored = await readIdentity(options.stateDir);
  if (stored !== undefined) return { identity: stored, enrolled: false };
  if (options.joinToken === undefined) {
    throw new LightsoutError('JOIN_TOKEN_INVALID', 'this agent has not enrolled yet and no join token is configured', {
      hint: 'create one with `lightsout agents token create --region R --datacenter D --tenant T`, then set joinToken, joinTokenFile or LIGHTSOUT_JOIN_TOKEN',
    });
  }
  let unreachable: LightsoutError | undefined;
  for (const relay of options.relays) {
    let enrolled: AgentEnrolled;
    try {
      enrolled = await enroll(relay, { joinToken: options.joinToken, name: options.name, publicKey: options.keyPair.publicJwk });
    } catch (error) {
      // Only an unreachable gateway is worth trying the next one for: a refused token is refused by every gateway.
      if (error instanceof LightsoutError && error.code === 'RELAY_UNREACHABLE') {
        unreachable = error;
        continue;
      }
      throw error;
    }
    const identity: AgentIdentity = { ...enrolled, relay };
    await writeIdentity(options.stateDir, identity);
    return { identity, enrolled: true };
  }
  throw unreachable ?? new LightsoutError('CONFIG_INVALID', 'no relay URL configured');
}
