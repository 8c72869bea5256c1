import type { ServerView } from '@lightsout/shared';
import { useEffect, useState } from 'react';
import type { RelayClient } from '../api/relay-client.js';
import { type FeedMode, startServerFeed } from '../api/server-feed.js';
import type { Platform } from '../platform/index.js';
import { mergeServers } from '../state/server-tree.js';

export interface FeedState { mode: FeedMode; detail?: string }

/**
 * The servers as the relay's live feed (or, failing that, polling) reports
 * them, and how they are arriving, for the status bar. Each update is merged
 * into the previous list so unchanged servers keep their identity.
 */
export function useServerFeed(client: RelayClient, platform: Platform): { servers: readonly ServerView[]; feedMode: FeedState } {
  const [servers, setServers] = useState<readonly ServerView[]>([]);
  const [feedMode, setFeedMode] = useState<FeedState>({ mode: 'connecting' });
  useEffect(
    () => startServerFeed({ client, accessToken: () => platform.auth.accessToken(), onServers: (next) => setServers((previous) => mergeServers(previous, next)), onMode: (mode, detail) => setFeedMode(detail === undefined ? { mode } : { mode, detail }) }),
    [client, platform],
  );
  return { servers, feedMode };
}
