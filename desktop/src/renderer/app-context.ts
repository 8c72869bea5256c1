import type { PowerAction, ServerView } from '@lightsout/shared';
import { createContext, useContext } from 'react';
import type { RelayClient } from './api/relay-client.js';
import type { Platform } from './platform/index.js';
import type { ConsoleRegistry } from './state/console-registry.js';

/** What any component may ask of the app: data, and the user-visible operations. */
export interface AppServices {
  platform: Platform;
  client: RelayClient;
  servers: ReadonlyMap<string, ServerView>;
  /** This window shows one popped-out tab: its consoles take control from the window they left. */
  poppedOut: boolean;
  openConsole(server: ServerView, kind: 'sol' | 'serial' | 'vnc'): void;
  openView(server: ServerView, kind: 'sensors' | 'sel' | 'recordings' | 'server'): void;
  requestPower(serverIds: readonly string[], action: PowerAction): void;
  requestBoot(serverIds: readonly string[]): void;
  uploadMedia(serverId: string, file: File): void;
  showServerMenu(serverIds: readonly string[], x: number, y: number): void;
  /** Puts `query` in the tree's filter box (the fleet overview's counts open their servers this way). */
  filterTree(query: string): void;
  openOverview(): void;
  toast(message: string, kind?: 'info' | 'error'): void;
  /** This window's consoles and their session state ("Reconnect all"). */
  consoles: ConsoleRegistry;
}

export const AppContext = createContext<AppServices | null>(null);

export function useApp(): AppServices {
  const services = useContext(AppContext);
  if (!services) throw new Error('useApp outside <AppContext.Provider>');
  return services;
}
