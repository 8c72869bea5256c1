/**
 * `@lightsout/relay/parts`: the relay's plugins and services one by one, for
 * benches that assemble a partial relay (a stream gateway without the OP, a
 * power-confirmation loop on its own). The relay itself is `buildApp()`.
 */
export { default as configPlugin } from './plugins/config.js';
export { default as accessPlugin } from './plugins/access.js';
export { default as errorsPlugin } from './plugins/errors.js';
export { default as streamsPlugin, type StreamDependencies } from './plugins/streams/index.js';
export { StreamTokens } from './plugins/streams/tokens.js';
export { SingleUseLedger } from './access/single-use.js';
export { type KeyDocuments, storeKeyDocuments } from './access/key-documents.js';
export { AtRestKey } from './store/at-rest-key.js';
export { openStore } from './store/open.js';
export { ServerActivity } from './inventory/activity.js';
export { ServerEvents } from './inventory/events.js';
export { PowerConfirmations } from './inventory/power-confirm.js';
