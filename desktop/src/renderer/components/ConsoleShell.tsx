import { type MediaState, type ServerView } from '@lightsout/shared';
import { lazy, Suspense, useCallback, useMemo, useRef, useState, useSyncExternalStore } from 'react';
import { adminSections } from '../admin/admin-model.js';
import { capabilitiesOf, ejectApplies, POWER_ACTIONS, powerActionApplies } from '../actions/server-actions.js';
import type { RelayClient } from '../api/relay-client.js';
import { AppContext, type AppServices } from '../app-context.js';
import { MediaUploads } from '../media/media-uploads.js';
import { MountIsoDialog } from '../media/MountIsoDialog.js';
import { UploadsPanel } from '../media/UploadsPanel.js';
import type { Platform } from '../platform/index.js';
import { ConsoleRegistry } from '../state/console-registry.js';
import { SHORTCUTS } from '../state/shortcuts.js';
import { readThemeChoice, THEME_CHOICES } from '../state/theme.js';
import type { Tab } from '../state/workspace.js';
import { BootDialog, ConfirmPowerDialog, MountDialog, ResultsDialog } from './ActionDialogs.js';
import { Dialog } from './Dialog.js';
import { Logo } from './LoginScreen.js';
import { Menu, type MenuEntry } from './Menu.js';
import { ServerTree } from './ServerTree.js';
import type { Modal } from './shell-modal.js';
import { SshKeysDialog } from './SshKeysDialog.js';
import { useServerActions } from './use-server-actions.js';
import { useServerFeed } from './use-server-feed.js';
import { useShortcuts } from './use-shortcuts.js';
import { useThemeChoice } from './use-theme-choice.js';
import { useToasts } from './use-toasts.js';
import { useWhoAmI } from './use-whoami.js';
import { useWorkspaceLayout } from './use-workspace-layout.js';
import { Workspace } from './Workspace.js';
import { count } from './count.js';

// Administration loads when an admin first opens it, not with the tree.
const AdminView = lazy(() => import('../admin/AdminView.js').then((module) => ({ default: module.AdminView })));

/**
 * The logged-in console: tree on the left, tabs and panes on the right, dialogs on top.
 * Each job lives in a hook of its own (use-*.ts beside this file); this composes them and renders.
 */
export function ConsoleShell({ platform, client, username, account, onLogout, popOut }: { platform: Platform; client: RelayClient; username: string; account: string | null; onLogout(): void; popOut: Tab | null }) {
  const { servers, feedMode } = useServerFeed(client, platform);
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const [menu, setMenu] = useState<{ serverIds: string[]; x: number; y: number } | null>(null);
  const [modal, setModal] = useState<Modal | null>(null);
  const { toasts, toast } = useToasts();
  const [workspace, dispatch] = useWorkspaceLayout(popOut, account);
  const searchRef = useRef<HTMLInputElement>(null);
  const me = useWhoAmI(client);
  const [adminOpen, setAdminOpen] = useState(false);
  const [treeFilter, setTreeFilter] = useState<{ query: string; serial: number } | null>(null);
  const uploads = useMemo(() => new MediaUploads(client, () => platform.auth.accessToken()), [client, platform]);
  const serverMap = useMemo(() => new Map(servers.map((server) => [server.id, server])), [servers]);
  const consoles = useMemo(() => new ConsoleRegistry(), []);
  const [theme, setTheme] = useThemeChoice();
  const endedConsoles = useSyncExternalStore(useCallback((listener: () => void) => consoles.subscribe(listener), [consoles]), () => consoles.ended());
  const { runBulk, power, boot } = useServerActions({ client, platform, toast, setModal });

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
      filterTree: (query) => setTreeFilter((previous) => ({ query, serial: (previous?.serial ?? 0) + 1 })),
      // The overview and its tree filters live where Administration is not: leave it for them.
      openOverview: () => {
        setAdminOpen(false);
        openTab({ id: 'fleet', kind: 'fleet', title: 'Fleet overview' });
      },
      toast,
      consoles,
    }),
    [platform, client, serverMap, openTab, power, toast, popOut, consoles],
  );

  // The tab moves to the new window (a second monitor): it leaves this one.
  const popOutTab = useCallback(
    (tab: Tab) => {
      platform.popOut(`popout=${encodeURIComponent(JSON.stringify(tab))}`, tab.title);
      dispatch({ type: 'close', tabId: tab.id });
    },
    [platform, dispatch],
  );

  useShortcuts({ workspace, dispatch, platform, openTab, popOutTab, searchRef, setModal });

  /**
   * The BMC's own web UI: a web session's one-time launch URL, opened in a
   * browser tab of its own (the desktop app hands it to the system browser).
   * The tab is opened before the request, while the click still counts as
   * the user's, and pointed at the URL once the relay answers.
   */
  const openWebUi = (server: ServerView): void => {
    const pending = window.open('', '_blank');
    client.createSession(server.id, 'web', 'control').then(
      (session) => {
        if (session.webUrl === undefined) throw new Error('the relay answered no web UI URL');
        if (pending === null) return void window.open(session.webUrl, '_blank', 'noopener,noreferrer');
        // The BMC's pages must not reach back into this window.
        pending.opener = null;
        pending.location.href = session.webUrl;
      },
    ).catch((error: unknown) => {
      pending?.close();
      toast(`${server.id}: could not open the BMC web UI — ${error instanceof Error ? error.message : String(error)}`, 'error');
    });
  };

  const menuEntries = (serverIds: string[]): MenuEntry[] => {
    const targets = serverIds.map((id) => serverMap.get(id)).filter((server): server is ServerView => server !== undefined);
    const capabilities = capabilitiesOf(targets);
    const single = targets.length === 1 ? targets[0]! : null;
    const entries: MenuEntry[] = [{ kind: 'heading', label: single ? single.name : count(targets.length, 'server') }];
    if (single) {
      entries.push(
        { kind: 'item', label: 'Server page', onSelect: () => services.openView(single, 'server'), testId: 'menu-server-page' },
        { kind: 'item', label: 'Open SOL console', disabled: !capabilities.has('sol'), onSelect: () => services.openConsole(single, 'sol'), testId: 'menu-open-sol' },
        { kind: 'item', label: 'Open serial console', disabled: !capabilities.has('serial'), onSelect: () => services.openConsole(single, 'serial'), testId: 'menu-open-serial' },
        { kind: 'item', label: 'Open graphical console (VNC)', disabled: !capabilities.has('vnc'), onSelect: () => services.openConsole(single, 'vnc'), testId: 'menu-open-vnc' },
        { kind: 'item', label: 'Open BMC web UI', hint: 'in a browser tab', disabled: !capabilities.has('web'), onSelect: () => openWebUi(single), testId: 'menu-open-web-ui' },
        { kind: 'separator' },
      );
    }
    for (const entry of POWER_ACTIONS) {
      entries.push({ kind: 'item', label: entry.destructive ? `${entry.label}…` : entry.label, danger: entry.destructive, disabled: !capabilities.has('power') || !powerActionApplies(entry.action, targets), onSelect: () => services.requestPower(serverIds, entry.action), testId: `menu-power-${entry.action}` });
    }
    entries.push({ kind: 'separator' }, { kind: 'item', label: 'Boot device…', disabled: !capabilities.has('boot'), onSelect: () => services.requestBoot(serverIds), testId: 'menu-boot' });
    if (single) entries.push({ kind: 'item', label: 'Mount ISO…', disabled: !capabilities.has('media'), onSelect: () => setModal({ kind: 'mount-iso', serverId: single.id }), testId: 'menu-mount-iso' });
    entries.push({
      kind: 'item',
      label: 'Eject virtual media',
      hint: 'drop an ISO to mount',
      disabled: !capabilities.has('media') || !ejectApplies(targets),
      testId: 'menu-eject',
      onSelect: () =>
        void runBulk(
          'Eject virtual media',
          serverIds,
          async (serverId) => {
            const state = await client.request<MediaState>('DELETE', `/v1/servers/${encodeURIComponent(serverId)}/media`);
            return state.message;
          },
          { kind: 'media.eject' },
          (data) => (data as MediaState).message,
        ),
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
          {me !== null && adminSections(me.role).length > 0 ? (
            <button className={adminOpen ? 'active' : ''} onClick={() => setAdminOpen(!adminOpen)} title="Users, grants, tenants, agents, tokens and the audit log" data-testid="open-admin">
              Administration
            </button>
          ) : null}
          <button onClick={() => services.openOverview()} data-testid="open-fleet-overview">Fleet overview</button>
          <button onClick={() => setModal({ kind: 'ssh' })} title="SSH keys and the relay's host key" data-testid="open-ssh-keys">SSH keys</button>
          <select aria-label="Theme" data-testid="theme-choice" value={theme} onChange={(event) => setTheme(readThemeChoice(event.target.value))} title="Light or dark, or as the operating system says">
            {THEME_CHOICES.map((entry) => <option key={entry.choice} value={entry.choice}>{entry.label}</option>)}
          </select>
          <button onClick={() => setModal({ kind: 'help' })} title="Keyboard shortcuts">?</button>
          <span className="user" data-testid="username">{username}</span>
          <button onClick={onLogout}>Sign out</button>
        </header>
        {/* The consoles stay mounted behind Administration: their sessions and scrollback go on. */}
        <div className="main" style={adminOpen ? { display: 'none' } : undefined}>
          <ServerTree servers={servers} selected={selected} onSelectionChange={setSelected} searchRef={searchRef} filterRequest={treeFilter} />
          <Workspace workspace={workspace} dispatch={dispatch} onPopOut={popOutTab} />
        </div>
        {adminOpen && me !== null ? (
          <Suspense fallback={<div className="pane-empty">Loading…</div>}>
            <AdminView platform={platform} client={client} role={me.role} ownTenant={me.tenant} servers={servers} onClose={() => setAdminOpen(false)} />
          </Suspense>
        ) : null}
        <footer className="statusbar">
          <span data-testid="feed-mode" data-mode={feedMode.mode} title={feedMode.detail}>
            {feedMode.mode === 'live' ? '● live updates' : feedMode.mode === 'polling' ? '● updating every few seconds' : feedMode.mode === 'error' ? `● relay unreachable: ${feedMode.detail ?? ''}` : '● connecting…'}
          </span>
          <span>{count(servers.length, 'server')}</span>
          <span>{servers.filter((server) => server.agent === 'offline').length} behind offline agents</span>
          <span>{count(workspace.tabs.length, 'tab')}</span>
          {endedConsoles > 0 ? (
            <button className="statusbar-action" data-testid="reconnect-all" onClick={() => consoles.reconnectEnded()} title="Start a new session for every console whose session ended">
              {count(endedConsoles, 'console')} ended — Reconnect all
            </button>
          ) : null}
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
          onConfirm={(request) => {
            setModal(null);
            boot(modal.serverIds, request);
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
      {modal?.kind === 'mount-iso' && serverMap.get(modal.serverId) ? (
        <MountIsoDialog
          server={serverMap.get(modal.serverId)!}
          client={client}
          onCancel={() => setModal(null)}
          onConfirm={(choice, withBoot) => {
            setModal(null);
            if (choice.source === 'file') uploads.start(modal.serverId, choice.file, withBoot);
            else if (choice.source === 'url') uploads.startUrl(modal.serverId, choice.url, withBoot);
            else uploads.startCached(modal.serverId, choice.image, withBoot);
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
