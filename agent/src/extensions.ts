import type { AgentExtensionFactory } from './agent.js';
import { createMediaExtension } from './media/extension.js';
import { createStreamsExtension } from './streams/extension.js';

/**
 * Parts of the agent beyond the BMC drivers that answer their own control
 * ops (the stream plane's `stream.open` / `stream.close`, …). Each is built
 * with the AgentContext at start and stopped with the agent.
 */
export function builtinExtensions(): AgentExtensionFactory[] {
  return [createMediaExtension(), createStreamsExtension()];
}
