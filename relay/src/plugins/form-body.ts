import type { FastifyInstance } from 'fastify';
import fp from 'fastify-plugin';

/**
 * `application/x-www-form-urlencoded` for the login and device-confirm forms.
 * Small and strict: a login form never needs more than a few kilobytes.
 */
async function formBodyPlugin(app: FastifyInstance): Promise<void> {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 16 * 1024 }, (_request, body, done) => {
    const fields: Record<string, string> = {};
    for (const [key, value] of new URLSearchParams(body as string)) {
      if (!Object.hasOwn(fields, key)) fields[key] = value;
    }
    done(null, fields);
  });
}

export default fp(formBodyPlugin, { name: 'lightsout-form-body' });
