import type { ServerView } from '@lightsout/shared';
import { lazy, memo, Suspense, useState } from 'react';
import { useApp } from '../app-context.js';
import { tabThroughPanesInVisualOrder } from './pane-focus.js';
import { SelView, SensorsView } from '../consoles/DataViews.js';
import type { SplitMode, Tab, Workspace as WorkspaceState, WorkspaceAction } from '../state/workspace.js';

const SPLITS: { mode: SplitMode; label: string; glyph: string; keys: string }[] = [
  { mode: 'single', label: 'Single pane', glyph: '▢', keys: 'Ctrl+Shift+1' },
  { mode: 'horizontal', label: 'Side by side', glyph: '◫', keys: 'Ctrl+Shift+2' },
  { mode: 'vertical', label: 'Stacked', glyph: '⬒', keys: 'Ctrl+Shift+3' },
  { mode: 'grid', label: '2×2 grid', glyph: '⊞', keys: 'Ctrl+Shift+4' },
];

/**
 * The tab strip and the panes. Every tab's body stays mounted while its tab
 * is open (hidden when not in a pane), so consoles keep their session and
 * scrollback; a body moves between panes by CSS grid area, not by remounting.
 */
export function Workspace({ workspace, dispatch, onPopOut }: { workspace: WorkspaceState; dispatch(action: WorkspaceAction): void; onPopOut(tab: Tab): void }) {
  const { servers } = useApp();
  const [dragging, setDragging] = useState<string | null>(null);
  const [dragOver, setDragOver] = useState<string | null>(null);
  const paneOf = (tabId: string) => workspace.panes.indexOf(tabId);

  return (
    <section className="workspace">
      <div className="tabstrip">
        <div className="tabs" role="tablist">
          {workspace.tabs.map((tab, index) => {
            const pane = paneOf(tab.id);
            return (
              <div
                key={tab.id}
                role="tab"
                aria-selected={pane >= 0}
                data-testid="tab"
                data-tab-id={tab.id}
                className={`tab${pane >= 0 ? ' shown' : ''}${pane === workspace.focusedPane ? ' focused' : ''}${dragging === tab.id ? ' dragging' : ''}${dragOver === tab.id ? ' drag-over' : ''}`}
                draggable
                onDragStart={(event) => {
                  setDragging(tab.id);
                  event.dataTransfer.setData('application/x-lightsout-tab', tab.id);
                  event.dataTransfer.effectAllowed = 'move';
                }}
                onDragOver={(event) => {
                  if (!event.dataTransfer.types.includes('application/x-lightsout-tab')) return;
                  event.preventDefault();
                  setDragOver(tab.id);
                }}
                onDragLeave={() => setDragOver(null)}
                onDrop={(event) => {
                  const moved = event.dataTransfer.getData('application/x-lightsout-tab');
                  if (moved) dispatch({ type: 'move', tabId: moved, toIndex: index });
                  setDragOver(null);
                }}
                onDragEnd={() => {
                  setDragging(null);
                  setDragOver(null);
                }}
                onClick={() => dispatch({ type: 'show', tabId: tab.id })}
                onAuxClick={(event) => event.button === 1 && dispatch({ type: 'close', tabId: tab.id })}
                onDoubleClick={() => onPopOut(tab)}
                title={`${tab.title} — double-click to pop out`}
              >
                <span className="kind">{tab.kind}</span>
                <span className="title">{tab.title}</span>
                <button
                  className="close"
                  aria-label={`Close ${tab.title}`}
                  onClick={(event) => {
                    event.stopPropagation();
                    dispatch({ type: 'close', tabId: tab.id });
                  }}
                >
                  ×
                </button>
              </div>
            );
          })}
        </div>
        <div className="layout-buttons" role="group" aria-label="Layout">
          {SPLITS.map((split) => (
            <button key={split.mode} className={workspace.split === split.mode ? 'active' : ''} title={`${split.label} (${split.keys})`} aria-label={split.label} onClick={() => dispatch({ type: 'split', mode: split.mode })}>
              {split.glyph}
            </button>
          ))}
        </div>
      </div>
      <div className={`panes ${workspace.split}`} data-testid="panes" data-split={workspace.split} onKeyDown={tabThroughPanesInVisualOrder}>
        {workspace.panes.map((tabId, pane) =>
          tabId === null ? (
            <div key={`empty-${pane}`} className={`pane pane-empty${pane === workspace.focusedPane ? ' focused' : ''}`} style={{ gridArea: `p${pane}` }} data-pane={pane} onMouseDown={() => dispatch({ type: 'focus-pane', pane })}>
              <EmptyPane />
            </div>
          ) : null,
        )}
        {workspace.tabs.map((tab) => {
          const pane = paneOf(tab.id);
          return (
            <div
              key={tab.id}
              className={`pane${pane === workspace.focusedPane ? ' focused' : ''}`}
              style={pane >= 0 ? { gridArea: `p${pane}` } : { display: 'none' }}
              data-testid="pane"
              data-pane={pane}
              onMouseDown={() => pane >= 0 && pane !== workspace.focusedPane && dispatch({ type: 'focus-pane', pane })}
            >
              <TabBody tab={tab} server={tab.serverId ? servers.get(tab.serverId) : undefined} visible={pane >= 0} />
            </div>
          );
        })}
      </div>
    </section>
  );
}

function EmptyPane() {
  return (
    <div>
      <p>Double-click a server to open its console, or right-click it for actions.</p>
      <p className="shortcuts">
        <kbd>Ctrl+Shift+F</kbd> search · <kbd>Ctrl+Shift+PgDn</kbd> next tab · <kbd>Ctrl+Shift+2</kbd> split
      </p>
    </div>
  );
}

// Console code (xterm.js, noVNC) loads with the first console tab, not before the tree.
const SolConsole = lazy(() => import('../consoles/SolConsole.js').then((module) => ({ default: module.SolConsole })));
const VncConsole = lazy(() => import('../consoles/VncConsole.js').then((module) => ({ default: module.VncConsole })));
const RecordingsView = lazy(() => import('../recordings/RecordingsView.js').then((module) => ({ default: module.RecordingsView })));
const ServerPage = lazy(() => import('../server/ServerPage.js').then((module) => ({ default: module.ServerPage })));
const FleetOverview = lazy(() => import('../overview/FleetOverview.js').then((module) => ({ default: module.FleetOverview })));
const LocalTerminalConsole = lazy(() => import('../consoles/LocalTerminalConsole.js').then((module) => ({ default: module.LocalTerminalConsole })));

const TabBody = memo(function TabBody(props: { tab: Tab; server: ServerView | undefined; visible: boolean }) {
  return (
    <Suspense fallback={<div className="pane-empty">Loading…</div>}>
      <TabContent {...props} />
    </Suspense>
  );
});

function TabContent({ tab, server, visible }: { tab: Tab; server: ServerView | undefined; visible: boolean }) {
  if (tab.kind === 'local') return <LocalTerminalConsole visible={visible} />;
  if (tab.kind === 'fleet') return <FleetOverview />;
  if (!server) return <div className="pane-empty">{tab.serverId} is not in your inventory (any more).</div>;
  switch (tab.kind) {
    case 'sol':
    case 'serial':
      return <SolConsole server={server} kind={tab.kind} visible={visible} />;
    case 'vnc':
      return <VncConsole server={server} visible={visible} />;
    case 'sensors':
      return <SensorsView server={server} />;
    case 'sel':
      return <SelView server={server} />;
    case 'recordings':
      return <RecordingsView server={server} />;
    case 'server':
      return <ServerPage server={server} visible={visible} />;
  }
}
