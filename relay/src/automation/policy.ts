import { type AutomationPolicy, type AutomationTool, type PowerAction, READ_ONLY_TOOLS, LightsoutError } from '@lightsout/shared';
import { compilePatterns } from './redact.js';

/**
 * A tenant's automation policy, compiled once per call. What an absent
 * field means is decided here and only here: read-only tools, no console
 * input, no approvals.
 */
export interface CompiledPolicy {
  tools: ReadonlySet<AutomationTool>;
  console: { allow: RegExp[]; deny: RegExp[]; allowMultiline: boolean; allowControl: boolean };
  approvalPower: ReadonlySet<PowerAction>;
  redact: RegExp[];
}

/** Compile, or VALIDATION_FAILED naming the pattern that is not a regular expression. */
export function compilePolicy(policy: AutomationPolicy | undefined): CompiledPolicy {
  try {
    return {
      tools: new Set(policy?.tools ?? READ_ONLY_TOOLS),
      console: {
        // Non-global copies: test() on a /g expression would carry lastIndex from one line to the next.
        allow: compilePatterns(policy?.console?.allow ?? []).map((pattern) => new RegExp(pattern.source)),
        deny: compilePatterns(policy?.console?.deny ?? []).map((pattern) => new RegExp(pattern.source)),
        allowMultiline: policy?.console?.allowMultiline === true,
        allowControl: policy?.console?.allowControl === true,
      },
      approvalPower: new Set(policy?.approval?.power ?? []),
      redact: compilePatterns(policy?.redact ?? []),
    };
  } catch (error) {
    throw new LightsoutError('VALIDATION_FAILED', (error as Error).message, { cause: error });
  }
}

// C0 controls and DEL, except tab; line breaks are judged separately.
// eslint-disable-next-line no-control-regex
const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LINE_BREAK = /[\r\n]/;

/**
 * Why a console line may not be sent, or undefined when it may. Deny wins
 * over allow; with no allow pattern nothing is sent.
 */
export function consoleLineRefusal(policy: CompiledPolicy, line: string): string | undefined {
  if (!policy.console.allowMultiline && LINE_BREAK.test(line)) return 'multi-line input is refused by the tenant policy';
  if (!policy.console.allowControl && CONTROL.test(line)) return 'control characters are refused by the tenant policy';
  const deny = policy.console.deny.find((pattern) => pattern.test(line));
  if (deny !== undefined) return `the line matches the deny pattern ${deny.source}`;
  if (!policy.console.allow.some((pattern) => pattern.test(line))) return 'the line matches no allow pattern of the tenant policy';
  return undefined;
}
