/** `@lightsout/agent/media`: the media cache, the signed media server the BMC fetches from, and its URL signer. */
export { MediaCache } from './cache.js';
export { MediaServer, type MediaAccess } from './media-server.js';
export { MediaUrlSigner } from './url-signer.js';
