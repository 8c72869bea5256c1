import { type Dispatch, useEffect, useReducer } from 'react';
import { persistableWorkspace, reduceWorkspace, restoreWorkspace, type Tab, type Workspace, type WorkspaceAction } from '../state/workspace.js';

/** Where consoles before per-user layouts kept one layout for whoever signed in next: never restored, removed when seen. */
const UNKEYED_LAYOUT_KEY = 'lightsout.workspace.v1';
const LAYOUT_KEY_PREFIX = 'lightsout.workspace.v2:';

/**
 * Where the layout of one signed-in account is saved. The tabs name the
 * tenant's servers: a layout is only ever restored to the account that saved
 * it, and without a known account nothing is saved at all.
 */
export function layoutKey(account: string | null): string | null {
  return account ? `${LAYOUT_KEY_PREFIX}${account}` : null;
}

/** Signing out: the account's saved tabs go with it, so the browser's next user finds none of them. */
export function forgetWorkspaceLayout(account: string | null): void {
  const key = layoutKey(account);
  if (key) localStorage.removeItem(key);
  localStorage.removeItem(UNKEYED_LAYOUT_KEY);
}

/**
 * The tabs and split layout. The main window restores the signed-in
 * account's last layout and saves every change under that account; a pop-out
 * window holds just the one tab it was given and saves nothing, so it never
 * overwrites the main window's layout.
 */
export function useWorkspaceLayout(popOut: Tab | null, account: string | null): [Workspace, Dispatch<WorkspaceAction>] {
  const key = popOut ? null : layoutKey(account);
  const [workspace, dispatch] = useReducer(reduceWorkspace, undefined, (): Workspace => {
    if (popOut) return reduceWorkspace(restoreWorkspace(null), { type: 'open', tab: popOut });
    localStorage.removeItem(UNKEYED_LAYOUT_KEY);
    return restoreWorkspace(key ? localStorage.getItem(key) : null);
  });
  useEffect(() => {
    if (key) localStorage.setItem(key, persistableWorkspace(workspace));
  }, [workspace, key]);
  return [workspace, dispatch];
}
