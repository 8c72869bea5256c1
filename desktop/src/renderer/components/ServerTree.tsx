import type { ServerView } from '@lightsout/shared';
import { memo, useCallback, useEffect, useMemo, useState } from 'react';
import { defaultConsoleKind, visibleSelection } from '../actions/server-actions.js';
import { useApp } from '../app-context.js';
import { buildRows, type GroupRow, type ServerRow, serversUnder, sortServers, type TreeRow } from '../state/server-tree.js';
import { AgentBadge, BmcLinkBadge, MediaBadge, PowerBadge, SessionsBadge } from './Badges.js';
import { VirtualList } from './VirtualList.js';
import { count } from './count.js';

const ROW_HEIGHT = 24;
const INDENT = 14;

export interface ServerTreeProps {
  servers: readonly ServerView[];
  selected: ReadonlySet<string>;
  onSelectionChange(selected: Set<string>): void;
  searchRef: React.RefObject<HTMLInputElement | null>;
  /** A filter put in the box from elsewhere (the fleet overview); `serial` makes the same query asked twice apply twice. */
  filterRequest?: { query: string; serial: number } | null;
}

/** The fleet as a collapsible, filterable, virtualized tree with multi-select. */
export function ServerTree({ servers, selected, onSelectionChange, searchRef, filterRequest }: ServerTreeProps) {
  const app = useApp();
  const [query, setQuery] = useState('');
  const [collapsed, setCollapsed] = useState<ReadonlySet<string>>(() => new Set());
  const [anchor, setAnchor] = useState<number | null>(null);
  const [cursor, setCursor] = useState<number | null>(null);
  const [dropTarget, setDropTarget] = useState<string | null>(null);

  useEffect(() => {
    if (!filterRequest) return;
    setQuery(filterRequest.query);
    setCursor(null);
  }, [filterRequest]);

  const sorted = useMemo(() => sortServers(servers), [servers]);
  const rows = useMemo(() => buildRows(sorted, query, collapsed), [sorted, query, collapsed]);
  // What the filter hides leaves the selection: "N selected" and the actions reach only what is on screen.
  const matching = useMemo(() => new Set(buildRows(sorted, query, new Set()).flatMap((row) => (row.kind === 'server' ? [row.server.id] : []))), [sorted, query]);
  useEffect(() => {
    const kept = visibleSelection(selected, matching);
    if (kept.size !== selected.size) onSelectionChange(kept);
  }, [matching, selected, onSelectionChange]);
  const serverIdsOfRows = useCallback((from: number, to: number) => rows.slice(Math.min(from, to), Math.max(from, to) + 1).flatMap((row) => (row.kind === 'server' ? [row.server.id] : [])), [rows]);

  const toggle = useCallback((key: string) => {
    setCollapsed((previous) => {
      const next = new Set(previous);
      if (!next.delete(key)) next.add(key);
      return next;
    });
  }, []);

  const click = (row: TreeRow, index: number, event: React.MouseEvent) => {
    setCursor(index);
    if (row.kind === 'group') {
      if (event.ctrlKey || event.metaKey) {
        const next = new Set(selected);
        for (const server of serversUnder(sorted, row.key)) next.add(server.id);
        onSelectionChange(next);
      } else toggle(row.key);
      return;
    }
    if (event.shiftKey && anchor !== null) {
      onSelectionChange(new Set(serverIdsOfRows(anchor, index)));
    } else if (event.ctrlKey || event.metaKey) {
      const next = new Set(selected);
      if (!next.delete(row.server.id)) next.add(row.server.id);
      onSelectionChange(next);
      setAnchor(index);
    } else {
      onSelectionChange(new Set([row.server.id]));
      setAnchor(index);
    }
  };

  const menuFor = (row: TreeRow, event: React.MouseEvent) => {
    event.preventDefault();
    event.stopPropagation();
    const ids = row.kind === 'group' ? serversUnder(sorted, row.key).map((server) => server.id) : selected.has(row.server.id) ? [...selected] : [row.server.id];
    if (row.kind === 'server' && !selected.has(row.server.id)) onSelectionChange(new Set([row.server.id]));
    app.showServerMenu(ids, event.clientX, event.clientY);
  };

  const keyDown = (event: React.KeyboardEvent) => {
    if (rows.length === 0) return;
    const current = cursor ?? 0;
    const row = rows[current];
    if (event.key === 'ArrowDown' || event.key === 'ArrowUp') {
      event.preventDefault();
      const next = Math.max(0, Math.min(rows.length - 1, current + (event.key === 'ArrowDown' ? 1 : -1)));
      setCursor(next);
      const target = rows[next];
      if (target?.kind === 'server' && !event.ctrlKey) onSelectionChange(event.shiftKey && anchor !== null ? new Set(serverIdsOfRows(anchor, next)) : new Set([target.server.id]));
      if (!event.shiftKey) setAnchor(next);
    } else if ((event.key === 'ArrowLeft' || event.key === 'ArrowRight') && row?.kind === 'group') {
      event.preventDefault();
      if ((event.key === 'ArrowLeft') !== row.collapsed) toggle(row.key);
    } else if (event.key === 'Enter' && row?.kind === 'server') {
      const kind = defaultConsoleKind(row.server);
      if (kind) app.openConsole(row.server, kind);
    } else if (event.key === 'ContextMenu' || (event.key === 'F10' && event.shiftKey)) {
      event.preventDefault();
      if (selected.size > 0) app.showServerMenu([...selected], 60, 120 + current * ROW_HEIGHT);
    }
  };

  const dropHandlers = (serverId: string) => ({
    onDragOver: (event: React.DragEvent) => {
      if (!event.dataTransfer.types.includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      setDropTarget(serverId);
    },
    onDragLeave: () => setDropTarget((current) => (current === serverId ? null : current)),
    onDrop: (event: React.DragEvent) => {
      event.preventDefault();
      setDropTarget(null);
      const file = event.dataTransfer.files[0];
      if (file) app.uploadMedia(serverId, file);
    },
  });

  const renderRow = (row: TreeRow, index: number, style: { top: number }) =>
    row.kind === 'group' ? (
      <GroupLine row={row} style={style} focused={cursor === index} onClick={(event) => click(row, index, event)} onContextMenu={(event) => menuFor(row, event)} />
    ) : (
      <ServerLine
        row={row}
        style={style}
        selected={selected.has(row.server.id)}
        focused={cursor === index}
        dropTarget={dropTarget === row.server.id}
        onClick={(event) => click(row, index, event)}
        onDoubleClick={() => {
          const kind = defaultConsoleKind(row.server);
          if (kind) app.openConsole(row.server, kind);
        }}
        onContextMenu={(event) => menuFor(row, event)}
        {...dropHandlers(row.server.id)}
      />
    );

  const shown = rows.reduce((count, row) => count + (row.kind === 'server' ? 1 : 0), 0);
  return (
    <div className="tree" data-testid="server-tree">
      <div className="tree-search">
        <input
          ref={searchRef}
          type="search"
          placeholder="Filter: name, label, BMC address, power:on …"
          aria-label="Filter servers"
          value={query}
          onChange={(event) => {
            setQuery(event.target.value);
            setCursor(null);
          }}
          onKeyDown={(event) => {
            if (event.key === 'ArrowDown') (event.currentTarget.parentElement?.nextElementSibling as HTMLElement | null)?.focus();
            if (event.key === 'Escape') setQuery('');
          }}
        />
      </div>
      {rows.length === 0 ? (
        <div className="tree-empty">{servers.length === 0 ? 'No servers yet. Agents register theirs when they connect.' : 'No server matches the filter.'}</div>
      ) : (
        <VirtualList className="tree-list" rows={rows} rowHeight={ROW_HEIGHT} rowKey={(row) => row.key} renderRow={renderRow} scrollToIndex={cursor} onKeyDown={keyDown} resetKey={query} />
      )}
      <div className="selection-bar" data-testid="selection-bar">
        <span className="count">
          {selected.size > 0 ? `${selected.size.toLocaleString()} selected` : `${shown.toLocaleString()} of ${count(servers.length, 'server')}`}
        </span>
        {selected.size > 0 ? (
          <>
            <button onClick={(event) => app.showServerMenu([...selected], event.clientX, event.clientY)}>Actions ▾</button>
            <button onClick={() => onSelectionChange(new Set())}>Clear</button>
          </>
        ) : null}
      </div>
    </div>
  );
}

export const GroupLine = memo(function GroupLine({ row, style, focused, onClick, onContextMenu }: { row: GroupRow; style: { top: number }; focused: boolean; onClick(event: React.MouseEvent): void; onContextMenu(event: React.MouseEvent): void }) {
  return (
    <div
      className={`tree-row group${focused ? ' selected' : ''}`}
      style={{ top: style.top, paddingLeft: 4 + row.depth * INDENT }}
      role="treeitem"
      aria-expanded={!row.collapsed}
      aria-level={row.depth + 1}
      data-group={row.key}
      onClick={onClick}
      onContextMenu={onContextMenu}
    >
      <span className="twisty">{row.collapsed ? '▸' : '▾'}</span>
      <span className="group-label">{row.label}</span>
      <span className="level">{row.level}</span>
      <span className="counts" title={`${count(row.total, 'server')}, ${row.poweredOn.toLocaleString('en')} on, ${row.agentsOffline > 0 ? row.agentsOffline.toLocaleString('en') : 'none'} behind an offline agent`}>
        {row.poweredOn}/{row.total} on{row.agentsOffline > 0 ? ` · ${row.agentsOffline} offline` : ''}
      </span>
    </div>
  );
});

export interface ServerLineProps {
  row: ServerRow;
  style: { top: number };
  selected: boolean;
  focused: boolean;
  dropTarget: boolean;
  onClick(event: React.MouseEvent): void;
  onDoubleClick(): void;
  onContextMenu(event: React.MouseEvent): void;
  onDragOver(event: React.DragEvent): void;
  onDragLeave(): void;
  onDrop(event: React.DragEvent): void;
}

/** One server in the tree: its power (pending, or why unknown), agent, BMC link, sessions and media badges. */
export function ServerLine({ row, style, selected, focused, dropTarget, onContextMenu, ...handlers }: ServerLineProps) {
  const { server } = row;
  const labels = Object.entries(server.labels).slice(0, 2).map(([key, value]) => `${key}=${value}`).join(' ');
  return (
    <div
      className={`tree-row server${selected ? ' selected' : ''}${dropTarget ? ' drop-target' : ''}`}
      style={{ top: style.top, paddingLeft: 4 + row.depth * INDENT }}
      role="treeitem"
      aria-selected={selected}
      aria-current={focused}
      data-testid="server-row"
      data-server-id={server.id}
      onContextMenu={onContextMenu}
      {...handlers}
    >
      <span className="name" title={server.id}>{server.name}</span>
      <PowerBadge power={server.power} pending={server.pendingPower ?? null} reason={server.bmc?.error ? `${server.bmc.error.code}: ${server.bmc.error.message}` : null} />
      <AgentBadge agent={server.agent} />
      <BmcLinkBadge bmc={server.bmc} />
      <SessionsBadge sessions={server.sessions} />
      <MediaBadge media={server.media} />
      {labels ? <span className="label-chip" title={labels}>{labels}</span> : <span className="fill" />}
      <button className="more icon" aria-label={`Actions for ${server.name}`} data-testid="server-actions" onClick={onContextMenu}>⋯</button>
    </div>
  );
}
