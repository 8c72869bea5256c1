import { fileURLToPath } from 'node:url';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';

// The import rules of docs/architecture.md, checked on the lint config
// itself: each deliberately bad import below must be refused by the rule
// named beside it, and each good one must pass. The snippets never touch
// the disk: lintText with a filePath is linted as if it lived there.

const root = fileURLToPath(new URL('..', import.meta.url));
const BOUNDARY_RULES = new Set(['no-restricted-imports', 'lightsout/no-cross-package-relative', 'lightsout/no-test-support', 'lightsout/one-testing-folder']);

let eslint: ESLint;
beforeAll(() => {
  eslint = new ESLint({ cwd: root });
});

async function boundaryRulesFor(filePath: string, specifier: string): Promise<string[]> {
  const code = `import { thing } from '${specifier}';\nexport { thing };\n`;
  const [result] = await eslint.lintText(code, { filePath });
  return result!.messages.map((message) => message.ruleId ?? `fatal: ${message.message}`).filter((rule) => rule.startsWith('fatal') || BOUNDARY_RULES.has(rule));
}

describe('the import rules refuse bad imports, each by its rule', () => {
  it.each([
    ['bmcsim reaching into the agent by a relative path', 'bmcsim/src/ipmi/x.ts', '../../../agent/src/ipmi/session/core.js', 'lightsout/no-cross-package-relative'],
    ['bmcsim depending on the agent by name', 'bmcsim/src/ipmi/x.ts', '@lightsout/agent/ipmi', 'no-restricted-imports'],
    ['the relay importing the lab', 'relay/src/plugins/x.ts', '@lightsout/lab', 'lightsout/no-test-support'],
    ['the relay importing its own testing/', 'relay/src/plugins/x.ts', '../testing/login.js', 'lightsout/no-test-support'],
    ['the agent importing its own testing/', 'agent/src/media/x.ts', '../testing/redfish-fixture-bmc.js', 'lightsout/no-test-support'],
    ['a test importing a fixture module (test support lives in testing/)', 'agent/src/media/x.test.ts', './service.fixture.js', 'lightsout/one-testing-folder'],
    ['a test importing a test-support folder', 'relay/src/plugins/x.test.ts', '../test-support/app.js', 'lightsout/one-testing-folder'],
    ['a test reaching its package\'s test/ folder from src/', 'bmcsim/src/ipmi/x.test.ts', '../../test/run.js', 'lightsout/one-testing-folder'],
    ['the agent importing another package\'s testing entry', 'agent/src/x.ts', '@lightsout/relay/testing', 'lightsout/no-test-support'],
    ['the wire package importing node:dgram', 'bmc-wire/src/ipmi/x.ts', 'node:dgram', 'no-restricted-imports'],
    ['the wire package importing a bare Node built-in', 'bmc-wire/src/rfb/x.ts', 'crypto', 'no-restricted-imports'],
    ['the wire package importing the agent', 'bmc-wire/src/rfb/x.ts', '@lightsout/agent', 'no-restricted-imports'],
    ['shared importing node:fs', 'shared/src/x.ts', 'node:fs', 'no-restricted-imports'],
    ['the desktop renderer importing node-pty', 'desktop/src/renderer/x.ts', 'node-pty', 'no-restricted-imports'],
    ['the relay importing the CLI\'s commands', 'relay/src/ssh/x.ts', '@lightsout/cli', 'no-restricted-imports'],
    ['bench deep-importing a package by a relative path', 'bench/lib/x.ts', '../../agent/src/media/cache.js', 'lightsout/no-cross-package-relative'],
    ['bench deep-importing a package\'s src by name', 'bench/lib/x.ts', '@lightsout/agent/src/media/cache.js', 'no-restricted-imports'],
  ])('%s', async (_what, filePath, specifier, rule) => {
    expect(await boundaryRulesFor(filePath, specifier)).toContain(rule);
  });
});

describe('and let the allowed ones through', () => {
  it.each([
    ['a relative import inside a package', 'agent/src/ipmi/session/x.ts', '../transport.js'],
    ['the agent using the wire package', 'agent/src/ipmi/x.ts', '@lightsout/bmc-wire/ipmi'],
    ['bmcsim using the wire package', 'bmcsim/src/rfb/x.ts', '@lightsout/bmc-wire/rfb'],
    ['a relay test using the lab', 'relay/src/plugins/x.test.ts', '@lightsout/lab'],
    ['test support using other test support', 'relay/src/testing/x.ts', './wait.js'],
    ['a test using its package\'s testing/', 'agent/src/redfish/x.test.ts', '../testing/redfish-fixture-bmc.js'],
    ['a test using another package\'s testing entry', 'bench/test/x.test.ts', '@lightsout/bmcsim/testing'],
    ['a wire test reading a fixture with node:fs', 'bmc-wire/src/ipmi/x.test.ts', 'node:fs'],
    ['bench using a package export', 'bench/lib/x.ts', '@lightsout/agent/media'],
    ['the relay using the CLI\'s Node stream client entry', 'relay/src/ssh/x.ts', '@lightsout/cli/node'],
    ['desktop main using the CLI\'s Node stream client entry', 'desktop/src/main/x.ts', '@lightsout/cli/node'],
  ])('%s', async (_what, filePath, specifier) => {
    expect(await boundaryRulesFor(filePath, specifier)).toEqual([]);
  });
});
