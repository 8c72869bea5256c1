import type { ServerIdentity } from '@lightsout/shared';

const NOT_REPORTED = <span className="muted">not reported</span>;

/** `0x0042`: how IPMI numbers are written in the spec and by ipmitool. */
const hex = (value: number, digits: number) => `0x${value.toString(16).padStart(digits, '0')}`;

/**
 * The machine as its BMC names it. Over IPMI vendor, model and serial come
 * from the BMC's FRU; without FRU the vendor is an IANA enterprise number
 * (named when it is a well-known one, shown as the number otherwise) and the
 * model a product ID; what the BMC did not report says so.
 */
export function IdentityFacts({ identity, error }: { identity: ServerIdentity | null; error: string | null }) {
  if (identity === null) return error ? <p className="status-critical" data-testid="hardware-identity-error">{error}</p> : <p className="muted">reading…</p>;
  const vendor = identity.vendor ?? (identity.manufacturerId === undefined ? undefined : `IANA enterprise ${identity.manufacturerId}`);
  const model = identity.model ?? (identity.productId === undefined ? undefined : `product ID ${hex(identity.productId, 4)}`);
  const rows: [string, string | undefined, string | undefined][] = [
    ['Vendor', vendor, identity.vendor !== undefined && identity.manufacturerId !== undefined ? `IANA enterprise ${identity.manufacturerId}` : undefined],
    ['Model', model, undefined],
    ['Serial number', identity.serialNumber, undefined],
    ['BMC firmware', identity.bmcFirmware, undefined],
    ['BIOS version', identity.biosVersion, undefined],
  ];
  return (
    <table className="facts" data-testid="hardware-identity" data-source={identity.source}>
      <tbody>
        {rows.map(([label, value, title]) => (
          <tr key={label}>
            <th scope="row">{label}</th>
            <td title={title}>{value ?? NOT_REPORTED}</td>
          </tr>
        ))}
        <tr>
          <th scope="row">Read over</th>
          <td className="muted">{identity.source === 'ipmi' ? 'IPMI (Get Device ID, FRU, system info)' : 'Redfish'}</td>
        </tr>
      </tbody>
    </table>
  );
}
