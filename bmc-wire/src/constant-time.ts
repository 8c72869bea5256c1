/**
 * Equality of two secrets (HMACs, auth codes, VNC responses) in time that
 * depends only on their length, so a peer learns nothing from how long a
 * refusal takes.
 */
export function bytesEqual(left: Uint8Array, right: Uint8Array): boolean {
  if (left.length !== right.length) return false;
  let difference = 0;
  for (let index = 0; index < left.length; index++) difference |= left[index]! ^ right[index]!;
  return difference === 0;
}
