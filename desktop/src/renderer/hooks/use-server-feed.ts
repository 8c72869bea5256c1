import type { ServerView } from '@lightsout/shared';
import { useEffect, useState } from 'react';
import type { RelayClient } from '../api/relay-client.js';
import { type FeedMode, startServerFeed } from '../api/server-feed.js';
import type { Platform } from '../platform/index.js';
import { mergeServers } from '../state/server-tree.js';

/** The servers the user may see, kept current by the relay's event feed (or polling), and how they are being kept current. */
export function useServerFeed(client: RelayClient, platform: Platform): { servers: readonly ServerView[]; feedMode: { mode: FeedMode; detail?: string } } {
  const [servers, setServers] = useState<readonly ServerView[]>([]);
  const [feedMode, setFeedMode] = useState<{ mode: FeedMode; detail?: string }>({ mode: 'connecting' });
  useEffect(
    () => startServerFeed({ client, accessToken: () => platform.auth.accessToken(), onServers: (next) => setServers((previous) => mergeServers(previous, next)), onMode: (mode, detail) => setFeedMode(detail === undefined ? { mode } : { mode, detail }) }),
    [client, platform],
  );
  return { servers, feedMode };
}
