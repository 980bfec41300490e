import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Unit tests of the checks and renderers only: no lab, no global setup.
//   npx vitest run --config test/checks/vitest.unit.config.ts
export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/checks/**/*.test.ts', 'test/render/**/*.test.ts'],
  },
});
