import { createDesktopPlatform } from './desktop.js';
import type { Platform } from './types.js';
import { createWebPlatform } from './web.js';

export type { AuthUser, LocalTerminalApi, Platform } from './types.js';

/** The build decides (vite `define`); the desktop build also needs the preload to be there. */
export function createPlatform(): Platform {
  if (__LIGHTSOUT_TARGET__ === 'desktop' && window.lightsout) return createDesktopPlatform(window.lightsout);
  return createWebPlatform();
}
