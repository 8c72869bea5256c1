import { type Dispatch, useEffect, useReducer } from 'react';
import { persistableWorkspace, reduceWorkspace, restoreWorkspace, type Tab, type Workspace, type WorkspaceAction } from '../state/workspace.js';

const LAYOUT_KEY = 'lightsout.workspace.v1';

/**
 * The tabs and split layout. The main window restores its last layout and
 * saves every change; a pop-out window holds just the one tab it was given
 * and saves nothing, so it never overwrites the main window's layout.
 */
export function useWorkspaceLayout(popOut: Tab | null): [Workspace, Dispatch<WorkspaceAction>] {
  const [workspace, dispatch] = useReducer(reduceWorkspace, undefined, (): Workspace =>
    popOut ? reduceWorkspace(restoreWorkspace(null), { type: 'open', tab: popOut }) : restoreWorkspace(localStorage.getItem(LAYOUT_KEY)),
  );
  useEffect(() => {
    if (!popOut) localStorage.setItem(LAYOUT_KEY, persistableWorkspace(workspace));
  }, [workspace, popOut]);
  return [workspace, dispatch];
}
