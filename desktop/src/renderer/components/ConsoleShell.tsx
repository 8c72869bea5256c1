import type { PowerAction, ServerView } from '@lightsout/shared';
import { useCallback, useMemo, useRef, useState } from 'react';
import { capabilitiesOf, ejectApplies, POWER_ACTIONS, powerActionApplies } from '../actions/server-actions.js';
import type { RelayClient } from '../api/relay-client.js';
import { AppContext, type AppServices } from '../app-context.js';
import { type ResultsModal, useServerActions } from '../hooks/use-server-actions.js';
import { useServerFeed } from '../hooks/use-server-feed.js';
import { useShortcuts } from '../hooks/use-shortcuts.js';
import { useToasts } from '../hooks/use-toasts.js';
import { useWorkspace } from '../hooks/use-workspace.js';
import { MediaUploads } from '../media/media-uploads.js';
import { UploadsPanel } from '../media/UploadsPanel.js';
import type { Platform } from '../platform/index.js';
import { SHORTCUTS } from '../state/shortcuts.js';
import type { Tab } from '../state/workspace.js';
import { BootDialog, ConfirmPowerDialog, MountDialog, ResultsDialog } from './ActionDialogs.js';
import { Dialog } from './Dialog.js';
import { Logo } from './LoginScreen.js';
import { Menu, type MenuEntry } from './Menu.js';
import { ServerTree } from './ServerTree.js';
import { SshKeysDialog } from './SshKeysDialog.js';
import { Workspace } from './Workspace.js';
import { count } from './count.js';

type Modal =
  | { kind: 'confirm-power'; serverIds: string[]; action: PowerAction }
  | { kind: 'boot'; serverIds: string[] }
  | ResultsModal
  | { kind: 'mount'; serverId: string; file: File }
  | { kind: 'help' }
  | { kind: 'ssh' };

/** The logged-in console: tree on the left, tabs and panes on the right, dialogs on top. */
export function ConsoleShell({ platform, client, username, onLogout, popOut }: { platform: Platform; client: RelayClient; username: string; onLogout(): void; popOut: Tab | null }) {
  const { servers, feedMode } = useServerFeed(client, platform);
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const [menu, setMenu] = useState<{ serverIds: string[]; x: number; y: number } | null>(null);
  const [modal, setModal] = useState<Modal | null>(null);
  const { toasts, toast } = useToasts();
  const [workspace, dispatch] = useWorkspace(popOut);
  const searchRef = useRef<HTMLInputElement>(null);
  const uploads = useMemo(() => new MediaUploads(client, () => platform.auth.accessToken()), [client, platform]);
  const serverMap = useMemo(() => new Map(servers.map((server) => [server.id, server])), [servers]);
  const { power, boot, eject } = useServerActions(client, platform, toast, setModal);

  const openTab = useCallback((tab: Tab) => dispatch({ type: 'open', tab }), [dispatch]);

  const services: AppServices = useMemo(
    () => ({
      platform,
      client,
      servers: serverMap,
      poppedOut: popOut !== null,
      openConsole: (server, kind) => openTab({ id: `${kind}:${server.id}`, kind, serverId: server.id, title: server.name }),
      openView: (server, kind) => openTab({ id: `${kind}:${server.id}`, kind, serverId: server.id, title: server.name }),
      requestPower: (serverIds, action) => {
        if (POWER_ACTIONS.find((entry) => entry.action === action)?.destructive) setModal({ kind: 'confirm-power', serverIds: [...serverIds], action });
        else power(serverIds, action);
      },
      requestBoot: (serverIds) => setModal({ kind: 'boot', serverIds: [...serverIds] }),
      uploadMedia: (serverId, file) => setModal({ kind: 'mount', serverId, file }),
      showServerMenu: (serverIds, x, y) => setMenu({ serverIds: [...serverIds], x, y }),
      toast,
    }),
    [platform, client, serverMap, openTab, power, toast, popOut],
  );

  // The tab moves to the new window (a second monitor): it leaves this one.
  const popOutTab = useCallback(
    (tab: Tab) => {
      platform.popOut(`popout=${encodeURIComponent(JSON.stringify(tab))}`, tab.title);
      dispatch({ type: 'close', tabId: tab.id });
    },
    [platform, dispatch],
  );
  const showHelp = useCallback(() => setModal({ kind: 'help' }), []);
  useShortcuts({ workspace, dispatch, platform, searchRef, openTab, popOutTab, showHelp });

  const menuEntries = (serverIds: string[]): MenuEntry[] => {
    const targets = serverIds.map((id) => serverMap.get(id)).filter((server): server is ServerView => server !== undefined);
    const capabilities = capabilitiesOf(targets);
    const single = targets.length === 1 ? targets[0]! : null;
    const entries: MenuEntry[] = [{ kind: 'heading', label: single ? single.name : count(targets.length, 'server') }];
    if (single) {
      entries.push(
        { kind: 'item', label: 'Open SOL console', disabled: !capabilities.has('sol'), onSelect: () => services.openConsole(single, 'sol'), testId: 'menu-open-sol' },
        { kind: 'item', label: 'Open serial console', disabled: !capabilities.has('serial'), onSelect: () => services.openConsole(single, 'serial'), testId: 'menu-open-serial' },
        { kind: 'item', label: 'Open graphical console (VNC)', disabled: !capabilities.has('vnc'), onSelect: () => services.openConsole(single, 'vnc'), testId: 'menu-open-vnc' },
        { kind: 'separator' },
      );
    }
    for (const entry of POWER_ACTIONS) {
      entries.push({ kind: 'item', label: entry.destructive ? `${entry.label}…` : entry.label, danger: entry.destructive, disabled: !capabilities.has('power') || !powerActionApplies(entry.action, targets), onSelect: () => services.requestPower(serverIds, entry.action), testId: `menu-power-${entry.action}` });
    }
    entries.push({ kind: 'separator' }, { kind: 'item', label: 'Boot device…', disabled: !capabilities.has('boot'), onSelect: () => services.requestBoot(serverIds), testId: 'menu-boot' });
    entries.push({
      kind: 'item',
      label: 'Eject virtual media',
      hint: 'drop an ISO to mount',
      disabled: !capabilities.has('media') || !ejectApplies(targets),
      testId: 'menu-eject',
      onSelect: () => eject(serverIds),
    });
    if (single) {
      entries.push(
        { kind: 'item', label: 'Sensors', disabled: !capabilities.has('sensors'), onSelect: () => services.openView(single, 'sensors'), testId: 'menu-sensors' },
        { kind: 'item', label: 'System event log', disabled: !capabilities.has('sel'), onSelect: () => services.openView(single, 'sel'), testId: 'menu-sel' },
        { kind: 'item', label: 'Recordings', onSelect: () => services.openView(single, 'recordings'), testId: 'menu-recordings' },
      );
    }
    return entries;
  };

  const modalServers = (ids: readonly string[]) => ids.map((id) => serverMap.get(id)).filter((server): server is ServerView => server !== undefined);

  if (popOut) {
    return (
      <AppContext.Provider value={services}>
        <div style={{ height: '100%', display: 'flex', flexDirection: 'column' }}>
          <Workspace workspace={workspace} dispatch={dispatch} onPopOut={() => {}} />
        </div>
      </AppContext.Provider>
    );
  }

  return (
    <AppContext.Provider value={services}>
      <div className="app">
        <header className="topbar">
          <span className="brand"><Logo /> Lightsout</span>
          <span className="user" style={{ fontSize: 12 }}>{new URL(client.baseUrl).host}</span>
          <span className="spacer" />
          {platform.localTerminal ? <button onClick={() => openTab({ id: `local:${Date.now()}`, kind: 'local', title: 'Local shell' })}>Local terminal</button> : null}
          <button onClick={() => setModal({ kind: 'ssh' })} title="SSH keys and the relay's host key" data-testid="open-ssh-keys">SSH keys</button>
          <button onClick={() => setModal({ kind: 'help' })} title="Keyboard shortcuts">?</button>
          <span className="user" data-testid="username">{username}</span>
          <button onClick={onLogout}>Sign out</button>
        </header>
        <div className="main">
          <ServerTree servers={servers} selected={selected} onSelectionChange={setSelected} searchRef={searchRef} />
          <Workspace workspace={workspace} dispatch={dispatch} onPopOut={popOutTab} />
        </div>
        <footer className="statusbar">
          <span data-testid="feed-mode" data-mode={feedMode.mode} title={feedMode.detail}>
            {feedMode.mode === 'live' ? '● live updates' : feedMode.mode === 'polling' ? '● updating every few seconds' : feedMode.mode === 'error' ? `● relay unreachable: ${feedMode.detail ?? ''}` : '● connecting…'}
          </span>
          <span>{count(servers.length, 'server')}</span>
          <span>{servers.filter((server) => server.agent === 'offline').length} behind offline agents</span>
          <span>{count(workspace.tabs.length, 'tab')}</span>
        </footer>
      </div>
      {menu ? <Menu label="Server actions" x={menu.x} y={menu.y} entries={menuEntries(menu.serverIds)} onClose={() => setMenu(null)} /> : null}
      {modal?.kind === 'confirm-power' ? (
        <ConfirmPowerDialog
          servers={modalServers(modal.serverIds)}
          action={modal.action}
          onCancel={() => setModal(null)}
          onConfirm={() => {
            setModal(null);
            power(modal.serverIds, modal.action);
          }}
        />
      ) : null}
      {modal?.kind === 'boot' ? (
        <BootDialog
          servers={modalServers(modal.serverIds)}
          onCancel={() => setModal(null)}
          onConfirm={(device, persistent, uefi) => {
            setModal(null);
            boot(modal.serverIds, device, persistent, uefi);
          }}
        />
      ) : null}
      {modal?.kind === 'results' ? <ResultsDialog title={modal.title} results={modal.results} pending={modal.pending} onClose={() => setModal(null)} /> : null}
      {modal?.kind === 'mount' && serverMap.get(modal.serverId) ? (
        <MountDialog
          server={serverMap.get(modal.serverId)!}
          file={modal.file}
          onCancel={() => setModal(null)}
          onConfirm={(withBoot) => {
            setModal(null);
            uploads.start(modal.serverId, modal.file, withBoot);
          }}
        />
      ) : null}
      {modal?.kind === 'help' ? (
        <Dialog title="Keyboard shortcuts" onCancel={() => setModal(null)} actions={<button className="primary" onClick={() => setModal(null)}>Close</button>}>
          <table className="data">
            <tbody>
              {SHORTCUTS.map((shortcut) => (
                <tr key={shortcut.keys}><td><kbd>{shortcut.keys}</kbd></td><td>{shortcut.description}</td></tr>
              ))}
              <tr><td><kbd>Ctrl+Shift+C</kbd> / <kbd>Ctrl+Shift+V</kbd></td><td>Copy / paste in a text console</td></tr>
              <tr><td><kbd>↑ ↓ ← →</kbd>, <kbd>Enter</kbd>, <kbd>Shift+F10</kbd></td><td>Move in the tree, open a console, actions menu</td></tr>
            </tbody>
          </table>
        </Dialog>
      ) : null}
      {modal?.kind === 'ssh' ? <SshKeysDialog client={client} onClose={() => setModal(null)} /> : null}
      <UploadsPanel uploads={uploads} />
      <div className="toast-area" aria-live="polite">
        {toasts.map((entry) => <div key={entry.id} className={`toast${entry.kind === 'error' ? ' error' : ''}`} data-testid="toast">{entry.message}</div>)}
      </div>
    </AppContext.Provider>
  );
}
