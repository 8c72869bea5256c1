import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import type { AgentMediaMount, BootOverride } from '@lightsout/shared';
import Type from 'typebox';
import { Compile } from 'typebox/compile';

/**
 * What is mounted where, kept in the agent's state directory so an agent
 * restart (an upgrade, a crash) neither forgets an image the BMC still has
 * inserted nor its automatic eject. Written whole on every change (a
 * handful of records), through a temporary file and a rename, so a crash
 * leaves the old file or the new one, never half of one.
 *
 *   { "version": 1, "mounts": { "<serverId>": { sha256, filename, mountedAt, mountedBy, autoEjectAt, restoreBoot? } } }
 *
 * `restoreBoot`: the boot override to put back at eject, when the BMC kept
 * the media boot's "once" as persistent.
 */
const Mount = Type.Object({
  sha256: Type.String({ pattern: '^[0-9a-f]{64}$' }),
  filename: Type.String({ maxLength: 255 }),
  mountedAt: Type.String({ maxLength: 40 }),
  mountedBy: Type.String({ maxLength: 255 }),
  autoEjectAt: Type.Union([Type.String({ maxLength: 40 }), Type.Null()]),
  restoreBoot: Type.Optional(
    Type.Object({
      device: Type.Union(['none', 'pxe', 'disk', 'cd', 'bios'].map((device) => Type.Literal(device))),
      persistent: Type.Boolean(),
      uefi: Type.Boolean(),
    }),
  ),
});
const MountFile = Type.Object({ version: Type.Literal(1), mounts: Type.Record(Type.String({ maxLength: 63 }), Mount) });
const mountFile = Compile(MountFile);

export type SavedMount = AgentMediaMount & { restoreBoot?: BootOverride };

export interface MountStore {
  load(): Map<string, SavedMount>;
  save(mounts: ReadonlyMap<string, SavedMount>): void;
}

/**
 * `onUnreadable` hears about a file that exists but cannot be used (not
 * JSON, wrong shape): the agent starts with no mounts rather than not at
 * all, and says so.
 */
export function fileMountStore(file: string, onUnreadable: (reason: string) => void): MountStore {
  return {
    load() {
      let text: string;
      try {
        text = readFileSync(file, 'utf8');
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code === 'ENOENT') return new Map();
        throw error;
      }
      let parsed: unknown;
      try {
        parsed = JSON.parse(text);
      } catch {
        onUnreadable('not JSON');
        return new Map();
      }
      if (!mountFile.Check(parsed)) {
        const [first] = mountFile.Errors(parsed);
        onUnreadable(`${first?.instancePath || '/'} ${first?.message ?? 'does not match'}`);
        return new Map();
      }
      return new Map(Object.entries(parsed.mounts) as [string, SavedMount][]);
    },
    save(mounts) {
      const record = {
        version: 1,
        mounts: Object.fromEntries(
          [...mounts].map(([serverId, mount]) => [
            serverId,
            {
              sha256: mount.sha256,
              filename: mount.filename,
              mountedAt: mount.mountedAt,
              mountedBy: mount.mountedBy,
              autoEjectAt: mount.autoEjectAt,
              ...(mount.restoreBoot ? { restoreBoot: mount.restoreBoot } : {}),
            },
          ]),
        ),
      };
      const temporary = `${file}.tmp`;
      writeFileSync(temporary, `${JSON.stringify(record, null, 2)}\n`, { mode: 0o600 });
      renameSync(temporary, file);
    },
  };
}
