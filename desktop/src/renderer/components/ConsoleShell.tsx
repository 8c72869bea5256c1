import { type BootDevice, type BulkJobView, type BulkOperation, LightsoutError, type MediaState, type PowerAction, type ServerView, type WhoAmI } from '@lightsout/shared';
import { lazy, Suspense, useCallback, useEffect, useMemo, useReducer, useRef, useState, useSyncExternalStore } from 'react';
import { adminSections } from '../admin/admin-model.js';
import { capabilitiesOf, ejectApplies, POWER_ACTIONS, powerActionApplies, powerOutcomeText } from '../actions/server-actions.js';
import { runBulkJob } from '../api/bulk-job.js';
import { forEachServer, type RelayClient } from '../api/relay-client.js';
import { type FeedMode, startServerFeed } from '../api/server-feed.js';
import { AppContext, type AppServices } from '../app-context.js';
import { MediaUploads } from '../media/media-uploads.js';
import { MountIsoDialog } from '../media/MountIsoDialog.js';
import { UploadsPanel } from '../media/UploadsPanel.js';
import type { Platform } from '../platform/index.js';
import { ConsoleRegistry } from '../state/console-registry.js';
import { matchShortcut, SHORTCUTS } from '../state/shortcuts.js';
import { applyTheme, readThemeChoice, THEME_CHOICES, THEME_KEY, type ThemeChoice } from '../state/theme.js';
import { mergeServers } from '../state/server-tree.js';
import { activeTab, persistableWorkspace, reduceWorkspace, restoreWorkspace, type Tab, type Workspace as WorkspaceState } from '../state/workspace.js';
import { type ActionResult, BootDialog, ConfirmPowerDialog, MountDialog, ResultsDialog } from './ActionDialogs.js';
import { Dialog } from './Dialog.js';
import { Logo } from './LoginScreen.js';
import { Menu, type MenuEntry } from './Menu.js';
import { ServerTree } from './ServerTree.js';
import { SshKeysDialog } from './SshKeysDialog.js';
import { Workspace } from './Workspace.js';
import { count } from './count.js';

const LAYOUT_KEY = 'lightsout.workspace.v1';

// Administration loads when an admin first opens it, not with the tree.
const AdminView = lazy(() => import('../admin/AdminView.js').then((module) => ({ default: module.AdminView })));

type Modal =
  | { kind: 'confirm-power'; serverIds: string[]; action: PowerAction }
  | { kind: 'boot'; serverIds: string[] }
  | { kind: 'results'; title: string; results: ActionResult[]; pending: number }
  | { kind: 'mount'; serverId: string; file: File }
  | { kind: 'mount-iso'; serverId: string }
  | { kind: 'help' }
  | { kind: 'ssh' };

let toastSerial = 0;

/** What a bulk result row says: the BMC's answer, or the error. */
function rowsOf(view: BulkJobView, describe: (data: unknown) => string): ActionResult[] {
  return view.results.map((result) =>
    result.ok
      ? { serverId: result.serverId, ok: true, detail: describe(result.data) }
      : { serverId: result.serverId, ok: false, detail: result.message ?? 'failed', error: new LightsoutError(result.code ?? 'INTERNAL', result.message ?? 'failed') },
  );
}

/** The logged-in console: tree on the left, tabs and panes on the right, dialogs on top. */
export function ConsoleShell({ platform, client, username, onLogout, popOut }: { platform: Platform; client: RelayClient; username: string; onLogout(): void; popOut: Tab | null }) {
  const [servers, setServers] = useState<readonly ServerView[]>([]);
  const [feedMode, setFeedMode] = useState<{ mode: FeedMode; detail?: string }>({ mode: 'connecting' });
  const [selected, setSelected] = useState<ReadonlySet<string>>(() => new Set());
  const [menu, setMenu] = useState<{ serverIds: string[]; x: number; y: number } | null>(null);
  const [modal, setModal] = useState<Modal | null>(null);
  const [toasts, setToasts] = useState<{ id: number; message: string; kind: 'info' | 'error' }[]>([]);
  const [workspace, dispatch] = useReducer(reduceWorkspace, undefined, (): WorkspaceState =>
    popOut ? reduceWorkspace(restoreWorkspace(null), { type: 'open', tab: popOut }) : restoreWorkspace(localStorage.getItem(LAYOUT_KEY)),
  );
  const searchRef = useRef<HTMLInputElement>(null);
  // Who the relay says we are: the role decides whether Administration is offered (the relay still decides every call).
  const [me, setMe] = useState<WhoAmI | null>(null);
  const [adminOpen, setAdminOpen] = useState(false);
  useEffect(() => {
    client.me().then(setMe, () => setMe(null));
  }, [client]);
  const [treeFilter, setTreeFilter] = useState<{ query: string; serial: number } | null>(null);
  const uploads = useMemo(() => new MediaUploads(client, () => platform.auth.accessToken()), [client, platform]);
  const serverMap = useMemo(() => new Map(servers.map((server) => [server.id, server])), [servers]);
  const consoles = useMemo(() => new ConsoleRegistry(), []);
  const [theme, setTheme] = useState<ThemeChoice>(() => readThemeChoice(localStorage.getItem(THEME_KEY)));
  useEffect(() => {
    applyTheme(document.documentElement, theme);
    if (theme === 'system') localStorage.removeItem(THEME_KEY);
    else localStorage.setItem(THEME_KEY, theme);
  }, [theme]);
  const endedConsoles = useSyncExternalStore(useCallback((listener: () => void) => consoles.subscribe(listener), [consoles]), () => consoles.ended());

  useEffect(
    () => startServerFeed({ client, accessToken: () => platform.auth.accessToken(), onServers: (next) => setServers((previous) => mergeServers(previous, next)), onMode: (mode, detail) => setFeedMode(detail === undefined ? { mode } : { mode, detail }) }),
    [client, platform],
  );
  useEffect(() => {
    if (!popOut) localStorage.setItem(LAYOUT_KEY, persistableWorkspace(workspace));
  }, [workspace, popOut]);

  const toast = useCallback((message: string, kind: 'info' | 'error' = 'info') => {
    const id = ++toastSerial;
    setToasts((current) => [...current.slice(-4), { id, message, kind }]);
    setTimeout(() => setToasts((current) => current.filter((entry) => entry.id !== id)), kind === 'error' ? 8000 : 4000);
  }, []);

  /**
   * One server: its own request and a toast. A multi-selection: one relay
   * job (POST /v1/bulk), whose results fill the dialog as they come.
   */
  const runBulk = useCallback(
    async (title: string, serverIds: readonly string[], single: (serverId: string) => Promise<string>, operation: BulkOperation, describe: (data: unknown) => string) => {
      if (serverIds.length === 1) {
        const [result] = await forEachServer(serverIds, 1, single);
        if (result!.ok) toast(`${serverIds[0]}: ${result!.value}`);
        else toast(`${serverIds[0]}: ${result!.error?.code} — ${result!.error?.message}`, 'error');
        return;
      }
      setModal({ kind: 'results', title, results: [], pending: serverIds.length });
      const show = (view: BulkJobView) => setModal((current) => (current?.kind === 'results' ? { ...current, results: rowsOf(view, describe), pending: view.total - view.results.length } : current));
      try {
        const view = await runBulkJob(client, serverIds, operation, show);
        platform.notify(title, view.failed === 0 ? `${count(view.results.length, 'server')} done` : `${view.failed} of ${view.total} failed`);
      } catch (error) {
        setModal(null);
        toast(`${title}: ${error instanceof LightsoutError ? `${error.code} — ${error.message}` : String(error)}`, 'error');
      }
    },
    [client, platform, toast],
  );

  const power = useCallback(
    (serverIds: readonly string[], action: PowerAction) =>
      void runBulk(
        `${POWER_ACTIONS.find((entry) => entry.action === action)?.label}`,
        serverIds,
        async (serverId) => {
          const result = await client.power(serverId, action);
          // the BMC accepted it; the tree shows it pending until the BMC reports the target
          return powerOutcomeText(action, result);
        },
        { kind: 'power', action },
        // a bulk power result is ok only once the BMC was seen in the target state
        (data) => `power ${(data as { power?: string } | undefined)?.power ?? action}`,
      ),
    [client, runBulk],
  );

  const boot = useCallback(
    (serverIds: readonly string[], device: BootDevice, persistent: boolean, uefi: boolean | undefined) =>
      void runBulk(
        'Set boot device',
        serverIds,
        async (serverId) => {
          const result = await client.setBoot(serverId, { device, persistent, ...(uefi === undefined ? {} : { uefi }) });
          // the BMC read back something other than what was asked: that is not a success to show quietly
          if (result.warning) toast(`${serverId}: ${result.warning}`, 'error');
          return `boot ${result.device}${result.persistent ? ' (every boot)' : ' (next boot)'}`;
        },
        { kind: 'boot', device, persistent, ...(uefi === undefined ? {} : { uefi }) },
        (data) => {
          const result = data as { device: string; persistent: boolean; warning?: string };
          return `boot ${result.device}${result.persistent ? ' (every boot)' : ' (next boot)'}${result.warning ? ` — ${result.warning}` : ''}`;
        },
      ),
    [client, runBulk, toast],
  );

  const openTab = useCallback((tab: Tab) => dispatch({ type: 'open', tab }), []);

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
    [platform],
  );

  useEffect(() => {
    const onKey = (event: KeyboardEvent) => {
      const shortcut = matchShortcut(event);
      if (!shortcut) return;
      event.preventDefault();
      event.stopPropagation();
      switch (shortcut.command) {
        case 'search': return searchRef.current?.focus();
        case 'next-tab': return dispatch({ type: 'cycle', step: 1 });
        case 'previous-tab': return dispatch({ type: 'cycle', step: -1 });
        case 'close-tab': {
          const tab = activeTab(workspace);
          return tab ? dispatch({ type: 'close', tabId: tab.id }) : undefined;
        }
        case 'split': return dispatch({ type: 'split', mode: shortcut.mode });
        case 'local-terminal':
          if (platform.localTerminal) openTab({ id: `local:${Date.now()}`, kind: 'local', title: 'Local shell' });
          return;
        case 'pop-out': {
          const tab = activeTab(workspace);
          return tab ? popOutTab(tab) : undefined;
        }
        case 'help': return setModal({ kind: 'help' });
      }
    };
    // Capture phase: consoles (xterm, noVNC) would otherwise swallow the keys.
    window.addEventListener('keydown', onKey, true);
    return () => window.removeEventListener('keydown', onKey, true);
  }, [workspace, platform, openTab, popOutTab]);

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
