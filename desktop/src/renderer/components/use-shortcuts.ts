import { type Dispatch, type RefObject, type SetStateAction, useEffect } from 'react';
import type { Platform } from '../platform/index.js';
import { matchShortcut } from '../state/shortcuts.js';
import { activeTab, type Tab, type Workspace, type WorkspaceAction } from '../state/workspace.js';
import type { Modal } from './shell-modal.js';

/** The window-wide keyboard shortcuts (the table in state/shortcuts.ts) and what each does in the shell. */
export function useShortcuts({ workspace, dispatch, platform, openTab, popOutTab, searchRef, setModal }: {
  workspace: Workspace;
  dispatch: Dispatch<WorkspaceAction>;
  platform: Platform;
  openTab: (tab: Tab) => void;
  popOutTab: (tab: Tab) => void;
  searchRef: RefObject<HTMLInputElement | null>;
  setModal: Dispatch<SetStateAction<Modal | null>>;
}): void {
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
  }, [workspace, dispatch, platform, openTab, popOutTab, searchRef, setModal]);
}
