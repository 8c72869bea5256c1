import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { createAgentMetrics, resultLabel } from './agent-metrics.js';

const docs = readFileSync(new URL('../../../docs/operations.md', import.meta.url), 'utf8');
const dashboard = JSON.parse(readFileSync(new URL('../../../docs/grafana/lightsout.json', import.meta.url), 'utf8')) as { panels: Array<{ targets?: Array<{ expr: string }> }> };

describe('agent metrics', () => {
  it('label values come from closed sets: unknown operations, protocols and codes collapse', async () => {
    const metrics = createAgentMetrics();
    metrics.observeOperation('power.poll', 'ipmi', resultLabel(undefined), 0.01);
    metrics.observeOperation('made.up', 'gopher', resultLabel({ code: 'NOT_A_CODE' }), 0.01);
    metrics.observeOperation('power.get', 'redfish', resultLabel(Object.assign(new Error('x'), { code: 'BMC_TIMEOUT' })), 0.01);
    const text = await metrics.registry.metrics();
    expect(text).toContain('lightsout_agent_bmc_operation_duration_seconds_count{operation="power.poll",protocol="ipmi",result="ok"} 1');
    expect(text).toContain('lightsout_agent_bmc_operation_duration_seconds_count{operation="other",protocol="other",result="other"} 1');
    expect(text).toContain('lightsout_agent_bmc_operation_duration_seconds_count{operation="power.get",protocol="redfish",result="BMC_TIMEOUT"} 1');
  });

  it('docs/operations.md lists every agent metric, and the Grafana dashboard uses only listed metrics', async () => {
    const registered = (await createAgentMetrics().registry.getMetricsAsJSON()).map((metric) => metric.name).filter((name) => name.startsWith('lightsout_'));
    expect(registered.length).toBeGreaterThan(8);
    for (const name of registered) expect(docs, `${name} in docs/operations.md`).toContain(`\`${name}\``);
    const used = new Set(dashboard.panels.flatMap((panel) => panel.targets ?? []).flatMap((target) => target.expr.match(/lightsout_[a-z_]+/g) ?? []).map((name) => name.replace(/_(bucket|count|sum)$/, '')));
    expect(used.size).toBeGreaterThan(10);
    for (const name of used) expect(docs, `${name} (dashboard) in docs/operations.md`).toContain(`\`${name}\``);
    // The relay's are checked against the relay's registry (relay/src/app.test.ts); these must be the agent's.
    for (const name of [...used].filter((candidate) => candidate.startsWith('lightsout_agent_'))) expect(registered, `${name} (dashboard) is an agent metric`).toContain(name);
  });
});
