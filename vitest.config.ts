import { defineConfig } from 'vitest/config';

// One vitest run covers every package; tests sit next to the code they test
// (`foo.ts` / `foo.test.ts`). Tests that need a real peer (ipmi_sim, x11vnc …)
// start it themselves through the project's lab helpers and stop it after.
export default defineConfig({
  test: {
    include: ['{shared,bmc-wire,relay,agent,cli,bmcsim,desktop,bench,lab,integration}/{src,test}/**/*.test.{ts,tsx}', 'eslint-rules/*.test.ts', 'fuzz/*.test.ts', 'scripts/*.test.ts'],
    exclude: ['**/node_modules/**', '**/build/**', '**/out/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    pool: 'forks',
    reporters: process.env.CI ? ['default'] : ['default'],
  },
});
