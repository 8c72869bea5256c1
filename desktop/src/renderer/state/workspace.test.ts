import { describe, expect, it } from 'vitest';
import { activeTab, emptyWorkspace, persistableWorkspace, reduceWorkspace, restoreWorkspace, type Tab, type Workspace, type WorkspaceAction } from './workspace.js';

const tab = (id: string, kind: Tab['kind'] = 'sol'): Tab => ({ id, kind, serverId: id, title: id });
const run = (actions: WorkspaceAction[], start: Workspace = emptyWorkspace) => actions.reduce(reduceWorkspace, start);

describe('workspace reducer', () => {
  it('opens tabs into the focused pane, re-opening an open tab just shows it', () => {
    const workspace = run([{ type: 'open', tab: tab('a') }, { type: 'open', tab: tab('b') }, { type: 'open', tab: tab('a') }]);
    expect(workspace.tabs.map((each) => each.id)).toEqual(['a', 'b']);
    expect(activeTab(workspace)?.id).toBe('a');
  });

  it('splits 2×2 keeping the focused tab first and filling from the strip', () => {
    const opened = run([{ type: 'open', tab: tab('a') }, { type: 'open', tab: tab('b') }, { type: 'open', tab: tab('c') }]);
    const grid = reduceWorkspace(opened, { type: 'split', mode: 'grid' });
    expect(grid.panes).toEqual(['c', 'a', 'b', null]);
    const back = reduceWorkspace(reduceWorkspace(grid, { type: 'focus-pane', pane: 2 }), { type: 'split', mode: 'vertical' });
    expect(back.panes).toEqual(['b', 'c']);
    expect(back.focusedPane).toBe(0);
  });

  it('shows a tab in one pane only (swapping) and cycles through the strip', () => {
    let workspace = run([{ type: 'open', tab: tab('a') }, { type: 'open', tab: tab('b') }, { type: 'split', mode: 'horizontal' }]);
    expect(workspace.panes).toEqual(['b', 'a']);
    workspace = reduceWorkspace(workspace, { type: 'show', tabId: 'a', pane: 0 });
    expect(workspace.panes).toEqual(['a', 'b']);
    workspace = reduceWorkspace(workspace, { type: 'cycle', step: 1 });
    expect(workspace.panes[0]).toBe('b');
    workspace = reduceWorkspace(workspace, { type: 'cycle', step: -1 });
    expect(workspace.panes[0]).toBe('a');
  });

  it('drag-reorders tabs, clamping the target index', () => {
    const workspace = run([{ type: 'open', tab: tab('a') }, { type: 'open', tab: tab('b') }, { type: 'open', tab: tab('c') }, { type: 'move', tabId: 'c', toIndex: 0 }]);
    expect(workspace.tabs.map((each) => each.id)).toEqual(['c', 'a', 'b']);
    expect(reduceWorkspace(workspace, { type: 'move', tabId: 'c', toIndex: 99 }).tabs.map((each) => each.id)).toEqual(['a', 'b', 'c']);
  });

  it('closing the shown tab shows its neighbour, not a tab already visible in another pane', () => {
    let workspace = run([{ type: 'open', tab: tab('a') }, { type: 'open', tab: tab('b') }, { type: 'open', tab: tab('c') }, { type: 'split', mode: 'horizontal' }]);
    expect(workspace.panes).toEqual(['c', 'a']);
    workspace = reduceWorkspace(workspace, { type: 'close', tabId: 'c' });
    expect(workspace.panes).toEqual(['b', 'a']);
    workspace = run([{ type: 'close', tabId: 'b' }, { type: 'close', tabId: 'a' }], workspace);
    expect(workspace).toMatchObject({ tabs: [], panes: [null, null] });
  });

  it('persists and restores, dropping local terminals and malformed entries', () => {
    const workspace = run([{ type: 'open', tab: tab('a', 'vnc') }, { type: 'open', tab: tab('t', 'local') }, { type: 'split', mode: 'vertical' }]);
    const restored = restoreWorkspace(persistableWorkspace(workspace));
    expect(restored).toEqual({ tabs: [tab('a', 'vnc')], split: 'vertical', panes: [null, 'a'], focusedPane: 0 });
    expect(restoreWorkspace('{not json')).toEqual(emptyWorkspace);
    expect(restoreWorkspace(JSON.stringify({ tabs: [{ id: 1 }, { id: 'x', kind: 'evil', title: 'x' }], split: 'nine', panes: 'x' }))).toEqual(emptyWorkspace);
  });
});
