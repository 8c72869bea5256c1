import { type ErrorCode, StreamCloseCode, isBmcFailure } from '@lightsout/shared';

/**
 * Exit statuses of an SSH console (what `ssh` itself exits with), the same
 * numbers as the CLI's (cli/src/exit-codes.ts) so scripts branch alike:
 *   0 left or ended normally   1 lost or another failure   2 no console named
 *   3 not allowed              4 no such server            5 agent or BMC unavailable
 */
export const SshExitStatus = { OK: 0, ERROR: 1, USAGE: 2, NOT_ALLOWED: 3, NOT_FOUND: 4, UNAVAILABLE: 5 } as const;
export type SshExitStatus = (typeof SshExitStatus)[keyof typeof SshExitStatus];

export function exitStatusOf(code: ErrorCode): SshExitStatus {
  if (isBmcFailure(code)) return SshExitStatus.UNAVAILABLE;
  switch (code) {
    case 'FORBIDDEN':
    case 'UNAUTHENTICATED':
    case 'STEP_UP_REQUIRED':
      return SshExitStatus.NOT_ALLOWED;
    case 'NOT_FOUND':
      return SshExitStatus.NOT_FOUND;
    case 'AGENT_OFFLINE':
    case 'AGENT_TIMEOUT':
      return SshExitStatus.UNAVAILABLE;
    default:
      return SshExitStatus.ERROR;
  }
}

/** The exit status for a stream close code (StreamCloseCode) once the console was open. */
export function exitStatusOfClose(code: number): SshExitStatus {
  if (code === 1000) return SshExitStatus.OK;
  if (code === StreamCloseCode.UNAUTHENTICATED || code === StreamCloseCode.FORBIDDEN) return SshExitStatus.NOT_ALLOWED;
  if (code === StreamCloseCode.NOT_FOUND) return SshExitStatus.NOT_FOUND;
  if (code === StreamCloseCode.BMC_UNREACHABLE || code === StreamCloseCode.AGENT_OFFLINE) return SshExitStatus.UNAVAILABLE;
  return SshExitStatus.ERROR;
}
