import { type DiscoveredBmcView, isSlug } from '@lightsout/shared';

/**
 * The Discovered BMCs screen's wording, pure and testable: what a found BMC
 * is in one line, the server id an adoption will ask for, and an adoption's
 * failure as a sentence an admin can act on.
 */

/** Vendor and model as the Redfish service root gave them; IPMI alone names neither. */
export function vendorModel(bmc: Pick<DiscoveredBmcView, 'vendor' | 'model'>): string {
  const parts = [bmc.vendor, bmc.model].filter((part): part is string => part !== undefined && part.trim() !== '');
  return parts.length === 0 ? '—' : parts.join(' ');
}

/** What the BMC answered, e.g. "IPMI 2.0, Redfish 1.15.0". */
export function protocolsText(bmc: Pick<DiscoveredBmcView, 'protocols' | 'ipmi' | 'redfish'>): string {
  return bmc.protocols
    .map((protocol) => {
      if (protocol === 'ipmi') return bmc.ipmi?.ipmi20 === true ? 'IPMI 2.0' : bmc.ipmi?.ipmi15 === true ? 'IPMI 1.5' : 'IPMI';
      return bmc.redfish?.redfishVersion === undefined ? 'Redfish' : `Redfish ${bmc.redfish.redfishVersion}`;
    })
    .join(', ');
}

/** The server id the relay derives from a name (lower case), or undefined when that is no id and one must be given. */
export function serverIdFromName(name: string): string | undefined {
  const id = name.trim().toLowerCase();
  return isSlug(id) ? id : undefined;
}

export interface AdoptDraft {
  name: string;
  /** Blank: derived from the name. */
  serverId: string;
  tenant: string;
  rack: string;
  credentials: string;
}

/** What is wrong with a draft before it is sent, in words; undefined when it can go. */
export function draftProblem(draft: AdoptDraft): string | undefined {
  if (draft.name.trim() === '') return 'Give the server a name.';
  const serverId = draft.serverId.trim();
  if (serverId !== '' && !isSlug(serverId)) return `“${serverId}” cannot be a server id: use lower-case letters, digits, dots, dashes and underscores.`;
  if (serverId === '' && serverIdFromName(draft.name) === undefined) return `The name “${draft.name.trim()}” cannot be a server id: give a server id too.`;
  if (draft.tenant === '') return 'Choose the tenant the server joins.';
  if (draft.rack.trim() !== '' && !isSlug(draft.rack.trim())) return `“${draft.rack.trim()}” cannot be a rack: use lower-case letters, digits, dots, dashes and underscores.`;
  if (!isSlug(draft.credentials.trim())) return 'Name the credential set: the id of an entry under credentials in the agent’s config (for example lab).';
  return undefined;
}

function reasonOf(error: unknown): unknown {
  const details = error !== null && typeof error === 'object' && 'details' in error ? (error as { details: unknown }).details : undefined;
  return details !== null && typeof details === 'object' && 'reason' in details ? (details as { reason: unknown }).reason : undefined;
}

/** An adoption that failed, as a sentence: what happened and what to do, then the relay's own words. */
export function adoptErrorText(error: unknown, context: { agentName: string; credentials: string; tenant: string }): string {
  const code = error !== null && typeof error === 'object' && 'code' in error ? String((error as { code: unknown }).code) : undefined;
  const message = error instanceof Error ? error.message : error !== null && typeof error === 'object' && 'message' in error ? String((error as { message: unknown }).message) : String(error);
  switch (code) {
    case 'CREDENTIALS_UNKNOWN':
      return `Agent ${context.agentName} has no credential set called “${context.credentials}”. Use the id of an entry under credentials in its config; the password stays on the agent.`;
    case 'FORBIDDEN':
      // The agent's own refusals say why in details.reason; without one it is the relay's tenant check.
      if (reasonOf(error) === 'CREDENTIALS_OUT_OF_RANGE') {
        return `Agent ${context.agentName} may not send credential set “${context.credentials}” to this address: its config limits that set to other ranges. Use the set meant for this network, or add the range to the set on the agent. (${message})`;
      }
      if (reasonOf(error) === 'IPMI_V15_NOT_ALLOWED') {
        return `This BMC offers only IPMI v1.5, which credential set “${context.credentials}” does not allow (its login would send a crackable hash). Enable IPMI v2.0 on the BMC, or allow v1.5 for the set on the agent. (${message})`;
      }
      return `Agent ${context.agentName} may not register servers into tenant ${context.tenant}. Add the tenant to the agent (Agents → Tenants…), then adopt again. (${message})`;
    case 'AGENT_OFFLINE':
    case 'AGENT_TIMEOUT':
      return `Agent ${context.agentName} is not connected, so it cannot adopt the BMC now. Try again once it is back online.`;
    case 'CONFLICT':
      return `Already taken: ${message}. Choose another server id, or refresh the list.`;
    case 'NOT_FOUND':
      return `Not found: ${message}. Scan again and refresh the list.`;
    case 'DISCOVERY_NOT_CONFIGURED':
      return `Agent ${context.agentName} has no discovery ranges in its config any more, so it adopts nothing.`;
    case 'BMC_CERT_MISMATCH':
      return `The BMC presented another certificate than the one discovery saw, so it was not adopted. Check the BMC out of band, scan again and retry. (${message})`;
    case undefined:
      return message;
    default:
      return `${message} (${code})`;
  }
}
