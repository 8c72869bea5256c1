/** One row of a server page's facts table: a label (a row header, for screen readers) and its value. */
export function FactRow({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <tr>
      <th scope="row">{label}</th>
      <td>{children}</td>
    </tr>
  );
}
