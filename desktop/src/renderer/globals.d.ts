/// <reference types="vite/client" />
import type { DesktopApi } from '../common/desktop-api.js';

declare global {
  /** 'web' or 'desktop': set by the build (vite define), picks the platform adapter. */
  const __LIGHTSOUT_TARGET__: 'web' | 'desktop';
  interface Window {
    /** The preload API; present only in the desktop app. */
    readonly lightsout?: DesktopApi;
  }
}
