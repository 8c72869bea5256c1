import { performance } from 'node:perf_hooks';
import { type AutomationTool, LightsoutError } from '@lightsout/shared';
import { Server } from '@modelcontextprotocol/sdk/server/index.js';
import { StreamableHTTPServerTransport } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import { CallToolRequestSchema, type CallToolResult, ListToolsRequestSchema, type Tool } from '@modelcontextprotocol/sdk/types.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import Type from 'typebox';
import { Compile } from 'typebox/compile';
import { type Redactor, auditedArguments, createRedactor, redactValue } from '../../automation/redact.js';
import { CLIENT_SCOPES } from '../../identity/provider.js';
import { TOOLS, type ToolDefinition } from './tools.js';

const RELAY_VERSION = '0.1.0';

/** The outcome an audit row records for an error code: refusals are `denied`, the rest `failure`. */
const DENIALS = new Set(['POLICY_DENIED', 'APPROVAL_REQUIRED', 'FORBIDDEN', 'STEP_UP_REQUIRED']);

interface PreparedTool {
  definition: ToolDefinition;
  check: ReturnType<typeof Compile>;
  listed: Tool;
}

/** JSON Schema as plain data (TypeBox schemas carry symbol keys the wire does not need). */
const plain = (schema: unknown) => JSON.parse(JSON.stringify(schema)) as Tool['inputSchema'];

function prepare(definition: ToolDefinition): PreparedTool {
  const output = Type.Object({ ...definition.output, duration_ms: Type.Integer({ minimum: 0 }), server_ids: Type.Array(Type.String()) });
  return {
    definition,
    check: Compile(definition.input),
    listed: {
      name: definition.name,
      title: definition.title,
      description: definition.description,
      inputSchema: plain(definition.input),
      outputSchema: plain(output) as Tool['outputSchema'],
      annotations: { title: definition.title, readOnlyHint: definition.readOnly, destructiveHint: definition.destructive, openWorldHint: false },
    },
  };
}

/**
 * The Model Context Protocol endpoint (docs/automation.md): BMC operations
 * as typed tools for AI assistants and automation platforms, with the
 * caller's own identity. Streamable HTTP in stateless mode: every POST
 * carries its bearer token and is authorised afresh (a revoked token stops
 * at its next call), no session lives in one relay's memory (any relay of a
 * deployment answers, behind any load balancer), and the tools need no
 * server-to-client messages. Each tool runs the same service functions as
 * the REST routes, after the same access decision, then the tenant's
 * automation policy; its output is redacted and every call is audited.
 */
export default async function mcpPlugin(app: FastifyInstance): Promise<void> {
  const tools = new Map<AutomationTool, PreparedTool>(TOOLS.map((definition) => [definition.name, prepare(definition)]));

  async function callTool(request: FastifyRequest, name: string, rawArgs: Record<string, unknown> | undefined): Promise<CallToolResult> {
    const started = performance.now();
    const principal = request.principal!;
    const args = rawArgs ?? {};
    // From validated arguments only: what the caller sent is bounded in the audit record, never its target.
    let serverIds: string[] = [];
    let redact: Redactor = createRedactor();
    const elapsed = () => Math.round(performance.now() - started);
    const audit = (outcome: 'success' | 'failure' | 'denied', code: string | undefined) =>
      app.audit.fromRequest(request, {
        action: `mcp.${name.slice(0, 64)}`,
        outcome,
        subject: principal.subject,
        tenant: principal.tenant,
        target: serverIds.length === 1 ? `server:${serverIds[0]}` : null,
        details: { arguments: auditedArguments(args, redact), ...(code === undefined ? {} : { code }), durationMs: elapsed(), serverIds: serverIds.slice(0, 100), serverCount: serverIds.length },
      });
    try {
      const { compiled } = await app.automation.policyOf(principal.tenant);
      redact = createRedactor(compiled.redact);
      const tool = tools.get(name as AutomationTool);
      if (tool === undefined) throw new LightsoutError('NOT_FOUND', `no tool ${name}`);
      if (!compiled.tools.has(tool.definition.name)) throw new LightsoutError('POLICY_DENIED', `the tenant's automation policy does not enable ${name}`, { hint: 'a tenant admin enables tools with lightsout automation policy set' });
      if (!tool.check.Check(args)) {
        const first = tool.check.Errors(args)[0];
        throw new LightsoutError('VALIDATION_FAILED', `invalid arguments for ${name}: ${first ? `${first.instancePath.slice(0, 200) || '/'} ${first.message}` : 'does not match the input schema'}`);
      }
      if (typeof args['server_id'] === 'string') serverIds = [args['server_id']];
      const answer = await tool.definition.run({ app, request, policy: compiled, redact }, args);
      serverIds = answer.serverIds;
      const structured = { ...redactValue(answer.result, redact), duration_ms: elapsed(), server_ids: serverIds };
      await audit('success', undefined);
      return { content: [{ type: 'text', text: JSON.stringify(structured) }], structuredContent: structured };
    } catch (error) {
      // Never a stack trace: a LightsoutError's code and words, or INTERNAL (the log has the rest).
      const failure = error instanceof LightsoutError ? error : new LightsoutError('INTERNAL', 'the tool failed; the relay log has the details');
      if (!(error instanceof LightsoutError)) request.log.error({ err: error, tool: name }, 'MCP tool failed');
      const body = redactValue(failure.toBody(), redact);
      await audit(DENIALS.has(failure.code) ? 'denied' : 'failure', failure.code);
      return { isError: true, content: [{ type: 'text', text: JSON.stringify({ error: body, duration_ms: elapsed(), server_ids: serverIds }) }] };
    }
  }

  /** One MCP server per HTTP request (stateless): the caller is this request's principal. */
  async function serverFor(request: FastifyRequest): Promise<Server> {
    const server = new Server({ name: 'lightsout', title: 'Lightsout relay', version: RELAY_VERSION }, { capabilities: { tools: { listChanged: false } }, instructions: 'BMC operations on the servers your Lightsout identity may reach. Error results carry a stable error code (error.code).' });
    server.setRequestHandler(ListToolsRequestSchema, async () => {
      const principal = request.principal!;
      const { compiled } = await app.automation.policyOf(principal.tenant);
      // A tool the caller may not use is not listed: the tenant policy enables it and the role holds its permission.
      return { tools: [...tools.values()].filter((tool) => compiled.tools.has(tool.definition.name) && app.access.may(principal, tool.definition.least)).map((tool) => tool.listed) };
    });
    server.setRequestHandler(CallToolRequestSchema, async (call) => callTool(request, call.params.name, call.params.arguments));
    return server;
  }

  app.post('/mcp', { config: { permission: 'automation.use' }, schema: { tags: ['automation'], summary: 'Model Context Protocol (Streamable HTTP, stateless): BMC operations as tools', security: [{ bearer: [] }] } }, async (request, reply) => {
    const server = await serverFor(request);
    const transport = new StreamableHTTPServerTransport({ sessionIdGenerator: undefined, enableJsonResponse: true });
    reply.hijack();
    reply.raw.once('close', () => {
      void transport.close();
      void server.close();
    });
    await server.connect(transport);
    await transport.handleRequest(request.raw, reply.raw, request.body);
  });
  // Stateless: no server-initiated stream to GET, no session to DELETE (Streamable HTTP allows 405 for both).
  for (const method of ['GET', 'DELETE'] as const) {
    app.route({
      method,
      url: '/mcp',
      config: { permission: 'automation.use' },
      schema: { hide: true },
      handler: async (_request, reply) => reply.status(405).header('allow', 'POST').send({ code: 'BAD_REQUEST', message: 'this MCP endpoint is stateless: POST only' }),
    });
  }

  // RFC 9728 §3: where an OAuth client (an MCP client) learns which authorization server issues tokens for us.
  const issuer = app.config.identity.mode === 'embedded' ? app.config.identity.issuer : app.config.identity.external!.issuer;
  // scopes_supported: what an MCP client asks for (the SDK takes it from here) — a person's sign-in with a refresh token.
  const metadata = (resource: string, name: string) => ({ resource, authorization_servers: [issuer], scopes_supported: CLIENT_SCOPES.split(' '), bearer_methods_supported: ['header'], resource_name: name, resource_documentation: `${app.config.publicUrl}/docs` });
  app.get('/.well-known/oauth-protected-resource', { config: { permission: 'public' }, schema: { tags: ['automation'], summary: 'OAuth protected-resource metadata of the relay API (RFC 9728)' } }, async () => metadata(app.config.publicUrl, 'Lightsout relay API'));
  app.get('/.well-known/oauth-protected-resource/mcp', { config: { permission: 'public' }, schema: { tags: ['automation'], summary: 'OAuth protected-resource metadata of the MCP endpoint (RFC 9728)' } }, async () => metadata(`${app.config.publicUrl}/mcp`, 'Lightsout MCP endpoint'));
}
