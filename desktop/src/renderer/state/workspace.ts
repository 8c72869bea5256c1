/**
 * Open tabs and how they are split on screen: a pure reducer, persisted to
 * storage as JSON and restored at start (so the layout survives a restart).
 *
 * The model is the one of tabbed connection managers: one ordered tab strip;
 * the screen shows 1, 2 or 4 panes; each pane shows one tab; clicking a tab
 * shows it in the focused pane.
 */
export type TabKind = 'sol' | 'serial' | 'vnc' | 'local' | 'sensors' | 'sel' | 'recordings' | 'fleet' | 'server';
export type SplitMode = 'single' | 'horizontal' | 'vertical' | 'grid';

export interface Tab {
  id: string;
  kind: TabKind;
  /** Absent for local terminals and the fleet overview. */
  serverId?: string;
  title: string;
}

export interface Workspace {
  tabs: Tab[];
  split: SplitMode;
  /** Tab id shown in each pane (length = paneCount(split)); null = empty pane. */
  panes: (string | null)[];
  focusedPane: number;
}

export type WorkspaceAction =
  | { type: 'open'; tab: Tab }
  | { type: 'close'; tabId: string }
  | { type: 'show'; tabId: string; pane?: number }
  | { type: 'move'; tabId: string; toIndex: number }
  | { type: 'cycle'; step: 1 | -1 }
  | { type: 'split'; mode: SplitMode }
  | { type: 'focus-pane'; pane: number };

export const emptyWorkspace: Workspace = { tabs: [], split: 'single', panes: [null], focusedPane: 0 };

export function paneCount(mode: SplitMode): number {
  return mode === 'single' ? 1 : mode === 'grid' ? 4 : 2;
}

/** The tab shown in the focused pane. */
export function activeTab(workspace: Workspace): Tab | null {
  const id = workspace.panes[workspace.focusedPane];
  return workspace.tabs.find((tab) => tab.id === id) ?? null;
}

function withPanes(workspace: Workspace, panes: (string | null)[]): Workspace {
  return { ...workspace, panes };
}

/** Fill empty panes with tabs not shown anywhere yet, in strip order. */
function fillPanes(tabs: readonly Tab[], panes: (string | null)[]): (string | null)[] {
  const shown = new Set(panes.filter((id): id is string => id !== null));
  const spare = tabs.map((tab) => tab.id).filter((id) => !shown.has(id));
  return panes.map((id) => id ?? spare.shift() ?? null);
}

export function reduceWorkspace(workspace: Workspace, action: WorkspaceAction): Workspace {
  switch (action.type) {
    case 'open': {
      if (workspace.tabs.some((tab) => tab.id === action.tab.id)) return reduceWorkspace(workspace, { type: 'show', tabId: action.tab.id });
      const tabs = [...workspace.tabs, action.tab];
      const panes = [...workspace.panes];
      panes[workspace.focusedPane] = action.tab.id;
      return { ...workspace, tabs, panes };
    }
    case 'close': {
      const index = workspace.tabs.findIndex((tab) => tab.id === action.tabId);
      if (index < 0) return workspace;
      const tabs = workspace.tabs.filter((tab) => tab.id !== action.tabId);
      const shownElsewhere = new Set(workspace.panes.filter((id) => id !== action.tabId));
      // The pane that showed the closed tab takes its neighbour (like closing a browser tab), if not already shown.
      const neighbour = [tabs[index], tabs[index - 1], ...tabs].find((tab) => tab && !shownElsewhere.has(tab.id));
      const panes = workspace.panes.map((id) => (id === action.tabId ? (neighbour?.id ?? null) : id));
      return { ...workspace, tabs, panes };
    }
    case 'show': {
      if (!workspace.tabs.some((tab) => tab.id === action.tabId)) return workspace;
      const pane = action.pane ?? workspace.focusedPane;
      if (pane < 0 || pane >= workspace.panes.length) return workspace;
      // A tab lives in one pane at a time: showing it here swaps with wherever it was.
      const previous = workspace.panes.indexOf(action.tabId);
      const panes = [...workspace.panes];
      if (previous >= 0) panes[previous] = panes[pane] ?? null;
      panes[pane] = action.tabId;
      return { ...withPanes(workspace, panes), focusedPane: pane };
    }
    case 'move': {
      const from = workspace.tabs.findIndex((tab) => tab.id === action.tabId);
      if (from < 0) return workspace;
      const tabs = [...workspace.tabs];
      const [tab] = tabs.splice(from, 1);
      const to = Math.max(0, Math.min(tabs.length, action.toIndex));
      tabs.splice(to, 0, tab!);
      return { ...workspace, tabs };
    }
    case 'cycle': {
      if (workspace.tabs.length === 0) return workspace;
      const current = workspace.tabs.findIndex((tab) => tab.id === workspace.panes[workspace.focusedPane]);
      const next = (current + action.step + workspace.tabs.length) % workspace.tabs.length;
      return reduceWorkspace(workspace, { type: 'show', tabId: workspace.tabs[next]!.id });
    }
    case 'split': {
      const count = paneCount(action.mode);
      const focused = workspace.panes[workspace.focusedPane] ?? null;
      // Keep the focused tab first, then the other visible ones, then fill from the strip.
      const kept = [focused, ...workspace.panes.filter((id, index) => index !== workspace.focusedPane)].filter((id): id is string => id !== null);
      const panes = fillPanes(workspace.tabs, Array.from({ length: count }, (_, index) => kept[index] ?? null));
      return { ...workspace, split: action.mode, panes, focusedPane: 0 };
    }
    case 'focus-pane':
      return action.pane >= 0 && action.pane < workspace.panes.length ? { ...workspace, focusedPane: action.pane } : workspace;
  }
}

const TAB_KINDS = new Set<TabKind>(['sol', 'serial', 'vnc', 'local', 'sensors', 'sel', 'recordings', 'fleet', 'server']);
const SPLIT_MODES = new Set<SplitMode>(['single', 'horizontal', 'vertical', 'grid']);

/** Restores a persisted workspace, dropping anything malformed rather than failing the start. */
export function restoreWorkspace(json: string | null): Workspace {
  if (!json) return emptyWorkspace;
  try {
    const parsed = JSON.parse(json) as Partial<Workspace>;
    const tabs = (Array.isArray(parsed.tabs) ? parsed.tabs : [])
      .filter((tab): tab is Tab => typeof tab?.id === 'string' && TAB_KINDS.has(tab.kind) && typeof tab.title === 'string')
      .slice(0, 64)
      .map((tab) => ({ id: tab.id, kind: tab.kind, title: tab.title, ...(typeof tab.serverId === 'string' ? { serverId: tab.serverId } : {}) }));
    const split = parsed.split && SPLIT_MODES.has(parsed.split) ? parsed.split : 'single';
    const ids = new Set(tabs.map((tab) => tab.id));
    const savedPanes = Array.isArray(parsed.panes) ? parsed.panes : [];
    const panes = Array.from({ length: paneCount(split) }, (_, index) => {
      const id = savedPanes[index];
      return typeof id === 'string' && ids.has(id) ? id : null;
    });
    const focusedPane = typeof parsed.focusedPane === 'number' && parsed.focusedPane >= 0 && parsed.focusedPane < panes.length ? parsed.focusedPane : 0;
    return { tabs, split, panes: fillPanes(tabs, panes), focusedPane };
  } catch {
    return emptyWorkspace;
  }
}

export function persistableWorkspace(workspace: Workspace): string {
  // Local terminals are processes on this machine: they do not come back after a restart.
  const tabs = workspace.tabs.filter((tab) => tab.kind !== 'local');
  const ids = new Set(tabs.map((tab) => tab.id));
  return JSON.stringify({ ...workspace, tabs, panes: workspace.panes.map((id) => (id && ids.has(id) ? id : null)) });
}
