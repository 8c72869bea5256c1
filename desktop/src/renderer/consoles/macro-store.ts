import { useSyncExternalStore } from 'react';
import { type Macro, readMacros } from './macros.js';

/** The person's macros, kept in this browser (or desktop app) beside the layout; every console's menu reads the same list. */
const STORAGE_KEY = 'lightsout.macros.v1';
const listeners = new Set<() => void>();
let raw: string | null | undefined;
let macros: Macro[] = [];

function snapshot(): Macro[] {
  const stored = localStorage.getItem(STORAGE_KEY);
  if (stored !== raw) {
    raw = stored;
    macros = readMacros(stored);
  }
  return macros;
}

function subscribe(listener: () => void): () => void {
  listeners.add(listener);
  // Another window of the same console (a popped-out tab) saved a change.
  const onStorage = (event: StorageEvent) => event.key === STORAGE_KEY && listener();
  window.addEventListener('storage', onStorage);
  return () => {
    listeners.delete(listener);
    window.removeEventListener('storage', onStorage);
  };
}

export function saveMacros(next: readonly Macro[]): void {
  localStorage.setItem(STORAGE_KEY, JSON.stringify(next));
  for (const listener of listeners) listener();
}

export function useMacros(): Macro[] {
  return useSyncExternalStore(subscribe, snapshot);
}
