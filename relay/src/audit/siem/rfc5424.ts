import type { AuditRecord } from '@lightsout/shared';
import { recordJson } from './transport.js';

/**
 * Audit records as syslog messages (RFC 5424) in octet-counted frames
 * (RFC 6587 §3.4.1, which RFC 5425 §4.3 uses over TLS too):
 *
 *   SYSLOG-FRAME = MSG-LEN SP SYSLOG-MSG                  MSG-LEN: octets of SYSLOG-MSG
 *   SYSLOG-MSG   = "<" PRIVAL ">1" SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 *                  SP STRUCTURED-DATA SP BOM JSON-RECORD
 *   STRUCTURED-DATA = "[" SD-ID *(SP PARAM-NAME "=" DQUOTE PARAM-VALUE DQUOTE) "]"
 *
 * MSGID is the audit action; the structured data carries the fields a SIEM
 * filters on, with `seq` and `hash` so that a receiver can drop the
 * duplicates at-least-once delivery may send; the message is the whole
 * record as JSON (RFC 5424 §6.4: BOM, then UTF-8).
 */
export interface SyslogIdentity {
  /** HOSTNAME: this replica's host name (§6.2.4). */
  hostname: string;
  /** APP-NAME (§6.2.5). */
  appName: string;
  /** PROCID (§6.2.6): the replica, so that a SIEM tells replicas apart. */
  procId: string;
  /** Facility (§6.2.1, Table 1); 13 is "log audit". */
  facility: number;
  /** SD-ID: a name with a private enterprise number (§7.2.2). */
  sdId: string;
}

/** §6.2.1 Table 2: a refused or failed action is a warning (4); a successful one is notice (5). */
function severityOf(record: AuditRecord): number {
  return record.outcome === 'success' ? 5 : 4;
}

/** §6: HOSTNAME, APP-NAME, PROCID and MSGID are 1*n PRINTUSASCII (%d33-126), or the NILVALUE "-". */
export function headerField(value: string | null | undefined, maxLength: number): string {
  const printable = (value ?? '').replace(/[^\x21-\x7e]/g, '_').slice(0, maxLength);
  return printable === '' ? '-' : printable;
}

/** §6.3.3: inside PARAM-VALUE, '"', '\' and ']' are escaped with '\'. */
export function paramValue(value: string): string {
  return value.replace(/["\\\]]/g, (character) => `\\${character}`);
}

/** §6.2.3: FULL-DATE "T" FULL-TIME in UTC, milliseconds (at most six fractional digits are allowed). */
function timestamp(milliseconds: number): string {
  return new Date(milliseconds).toISOString();
}

const BOM = '\ufeff';

export function syslogMessage(record: AuditRecord, identity: SyslogIdentity): string {
  const prival = identity.facility * 8 + severityOf(record);
  const params: Array<[string, string | number | null]> = [
    ['seq', record.seq],
    ['outcome', record.outcome],
    ['tenant', record.tenant],
    ['subject', record.subject],
    ['target', record.target],
    ['sourceIp', record.sourceIp],
    ['correlationId', record.correlationId],
    ['hash', record.hash],
    ['prevHash', record.prevHash],
  ];
  const structured = `[${identity.sdId}${params
    .filter((param): param is [string, string | number] => param[1] !== null)
    .map(([name, value]) => ` ${name}="${paramValue(String(value))}"`)
    .join('')}]`;
  const header = [`<${prival}>1`, timestamp(record.time), headerField(identity.hostname, 255), headerField(identity.appName, 48), headerField(identity.procId, 128), headerField(record.action, 32)].join(' ');
  return `${header} ${structured} ${BOM}${recordJson(record)}`;
}

/** RFC 6587 §3.4.1: the message's length in octets, a space, the message. */
export function octetCountedFrame(message: string): Buffer {
  const body = Buffer.from(message, 'utf8');
  return Buffer.concat([Buffer.from(`${body.length} `, 'ascii'), body]);
}
