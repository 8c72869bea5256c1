import { ErrorBodySchema, Slug } from '@lightsout/shared';
import Type, { type Static } from 'typebox';

/**
 * What every `/v1/servers/:id/…` route plugin declares alike (servers, power,
 * boot, sensors, SEL): the path parameter, the error answers the operations
 * can give (the agent's 502/503/504 included) and the OpenAPI tag.
 */
export const ServerParams = Type.Object({ id: Slug });
export type ServerParams = Static<typeof ServerParams>;
export const serverErrors = { 400: ErrorBodySchema, 401: ErrorBodySchema, 403: ErrorBodySchema, 404: ErrorBodySchema, 429: ErrorBodySchema, 502: ErrorBodySchema, 503: ErrorBodySchema, 504: ErrorBodySchema };
export const serverTag = { tags: ['servers'], security: [{ bearer: [] }] };
