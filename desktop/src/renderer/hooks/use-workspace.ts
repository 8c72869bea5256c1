import { type Dispatch, useEffect, useReducer } from 'react';
import { persistableWorkspace, reduceWorkspace, restoreWorkspace, type Tab, type Workspace, type WorkspaceAction } from '../state/workspace.js';

const LAYOUT_KEY = 'lightsout.workspace.v1';

/**
 * The tabs and panes: restored from the last session and saved on every
 * change; a popped-out window holds only its one tab and saves nothing.
 */
export function useWorkspace(popOut: Tab | null): [Workspace, Dispatch<WorkspaceAction>] {
  const [workspace, dispatch] = useReducer(reduceWorkspace, undefined, (): Workspace =>
    popOut ? reduceWorkspace(restoreWorkspace(null), { type: 'open', tab: popOut }) : restoreWorkspace(localStorage.getItem(LAYOUT_KEY)),
  );
  useEffect(() => {
    if (!popOut) localStorage.setItem(LAYOUT_KEY, persistableWorkspace(workspace));
  }, [workspace, popOut]);
  return [workspace, dispatch];
}
