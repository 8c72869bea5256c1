// oidc-provider ships no type declarations; this is the narrow surface the
// relay uses (https://github.com/panva/node-oidc-provider/blob/main/docs/README.md).
declare module 'oidc-provider' {
  import type { IncomingMessage, ServerResponse } from 'node:http';

  export interface AdapterPayload {
    [key: string]: unknown;
    grantId?: string;
    userCode?: string;
    uid?: string;
    consumed?: unknown;
  }
  export interface Adapter {
    upsert(id: string, payload: AdapterPayload, expiresIn: number): Promise<void>;
    find(id: string): Promise<AdapterPayload | undefined>;
    findByUserCode(userCode: string): Promise<AdapterPayload | undefined>;
    findByUid(uid: string): Promise<AdapterPayload | undefined>;
    consume(id: string): Promise<void>;
    destroy(id: string): Promise<void>;
    revokeByGrantId(grantId: string): Promise<void>;
  }

  export interface KoaContextWithOIDC {
    oidc: { client?: { clientId: string; clientName?: string }; route: string; [key: string]: unknown };
    ip: string;
    host: string;
    type: string;
    body: unknown;
    status: number;
    get(name: string): string;
    [key: string]: unknown;
  }

  export interface InteractionDetails {
    uid: string;
    prompt: { name: string; reasons: string[]; details: Record<string, unknown> };
    params: Record<string, unknown> & { client_id?: string };
    session?: { accountId?: string; uid?: string };
    grantId?: string;
    lastSubmission?: Record<string, unknown>;
    /** Set when the interaction is a device-flow sign-in (RFC 8628). */
    deviceCode?: string;
    returnTo: string;
  }

  export class Grant {
    constructor(properties: { accountId: string; clientId: string });
    addOIDCScope(scope: string): void;
    addOIDCClaims(claims: string[]): void;
    addResourceScope(resource: string, scope: string): void;
    save(): Promise<string>;
    static find(id: string): Promise<Grant | undefined>;
  }

  export namespace interactionPolicy {
    /** One reason to ask for a prompt: `check` answers true when the End-User must be asked. */
    class Check {
      constructor(reason: string, description: string, error: string, check: (context: KoaContextWithOIDC) => boolean | Promise<boolean>);
    }
    interface Prompt {
      name: string;
      checks: Check[] & { add(check: Check, index?: number): void };
    }
    /** The default policy: the login prompt, then the consent prompt. */
    function base(): Prompt[] & { get(name: string): Prompt | undefined };
  }

  export class errors {
    static InvalidTarget: new (description?: string) => Error;
    static InvalidClientMetadata: new (description?: string) => Error;
    static InvalidRedirectUri: new (description?: string) => Error;
  }

  export default class Provider {
    constructor(issuer: string, configuration: Record<string, unknown>);
    proxy: boolean;
    Grant: typeof Grant;
    callback(): (request: IncomingMessage, response: ServerResponse) => void;
    interactionDetails(request: IncomingMessage, response: ServerResponse): Promise<InteractionDetails>;
    interactionResult(request: IncomingMessage, response: ServerResponse, result: Record<string, unknown>, options?: { mergeWithLastSubmission?: boolean }): Promise<string>;
    on(event: string, listener: (...args: unknown[]) => void): this;
    /** Koa middleware around every OP request. */
    use(middleware: (context: KoaContextWithOIDC & { method: string; path: string }, next: () => Promise<void>) => Promise<void>): this;
  }
}
