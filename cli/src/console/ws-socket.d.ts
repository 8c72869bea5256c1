import type { SetTimer, StreamSocketFactory } from '@lightsout/shared';
/**
 * StreamClient's socket over `ws`. A refused upgrade surfaces as close code
 * 4000 + HTTP status (4401, 4403 …), which StreamClient treats as final.
 */
export declare function nodeStreamSocket(options?: {
    perMessageDeflate?: boolean;
}): StreamSocketFactory;
export declare const nodeSetTimer: SetTimer;
