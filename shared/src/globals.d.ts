// The few platform globals every runtime we target (Node 22, Chromium,
// Electron) provides. Declared here, narrowly, because this package compiles
// without the Node and DOM libs on purpose.
declare class TextEncoder {
  encode(input?: string): Uint8Array;
}
declare class TextDecoder {
  constructor(label?: string, options?: { fatal?: boolean });
  decode(input?: Uint8Array): string;
}
