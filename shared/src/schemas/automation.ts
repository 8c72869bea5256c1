import Type, { type Static } from 'typebox';
import { PowerAction } from './server.js';

/**
 * The tools the relay's MCP endpoint offers (docs/automation.md). The first
 * group only reads; the rest act on a server and are off unless the tenant's
 * automation policy enables them.
 */
export const READ_ONLY_TOOLS = ['list_servers', 'get_server', 'power_status', 'read_sensors', 'read_event_log', 'console_tail', 'bulk_status'] as const;
export const ACTING_TOOLS = ['power_action', 'set_boot', 'console_send', 'mount_media', 'eject_media', 'bulk_action'] as const;
export const AUTOMATION_TOOLS = [...READ_ONLY_TOOLS, ...ACTING_TOOLS] as const;
export type AutomationTool = (typeof AUTOMATION_TOOLS)[number];

const Pattern = Type.String({ minLength: 1, maxLength: 200 });

/**
 * A tenant's automation policy (`PUT /v1/automation/policy`). Absent fields
 * take the safe default: read-only tools only, no console input, no
 * approvals, the built-in redaction patterns only.
 */
export const AutomationPolicy = Type.Object(
  {
    /** Enabled tools; default the read-only ones. */
    tools: Type.Optional(Type.Array(Type.Union(AUTOMATION_TOOLS.map((name) => Type.Literal(name))), { maxItems: AUTOMATION_TOOLS.length, uniqueItems: true })),
    console: Type.Optional(
      Type.Object(
        {
          /** A line is sent only when it matches one of these (JavaScript regular expressions, whole-line anchors are up to you). */
          allow: Type.Optional(Type.Array(Pattern, { maxItems: 64 })),
          /** A line matching one of these is refused even when an allow pattern matches: deny wins. */
          deny: Type.Optional(Type.Array(Pattern, { maxItems: 64 })),
          /** Lines with a line break inside are refused unless true. */
          allowMultiline: Type.Optional(Type.Boolean()),
          /** Control characters (other than the final Enter the relay adds) are refused unless true. */
          allowControl: Type.Optional(Type.Boolean()),
        },
        { additionalProperties: false },
      ),
    ),
    /** Power actions that wait for a tenant admin's approval (power_action and bulk_action alike). */
    approval: Type.Optional(Type.Object({ power: Type.Optional(Type.Array(PowerAction, { uniqueItems: true, maxItems: 5 })) }, { additionalProperties: false })),
    /** Extra redaction patterns (regular expressions) applied to tool output besides the built-in ones. */
    redact: Type.Optional(Type.Array(Pattern, { maxItems: 64 })),
  },
  { additionalProperties: false },
);
export type AutomationPolicy = Static<typeof AutomationPolicy>;

export const AutomationPolicyView = Type.Object({ tenant: Type.String(), policy: AutomationPolicy, updatedAt: Type.Union([Type.String(), Type.Null()]), updatedBy: Type.Union([Type.String(), Type.Null()]) });
export type AutomationPolicyView = Static<typeof AutomationPolicyView>;

export const ApprovalStatus = Type.Union([Type.Literal('pending'), Type.Literal('approved'), Type.Literal('denied'), Type.Literal('used'), Type.Literal('expired')]);
export type ApprovalStatus = Static<typeof ApprovalStatus>;

/** A tool call waiting for (or given) a tenant admin's approval. */
export const ApprovalView = Type.Object({
  id: Type.String(),
  tenant: Type.String(),
  tool: Type.String(),
  serverId: Type.String(),
  /** The call's arguments, redacted. */
  arguments: Type.Record(Type.String(), Type.Unknown()),
  requestedBy: Type.String(),
  status: ApprovalStatus,
  createdAt: Type.String(),
  expiresAt: Type.String(),
  decidedBy: Type.Union([Type.String(), Type.Null()]),
});
export type ApprovalView = Static<typeof ApprovalView>;
export const ApprovalList = Type.Object({ approvals: Type.Array(ApprovalView) });
export type ApprovalList = Static<typeof ApprovalList>;
