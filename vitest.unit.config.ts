import { defineConfig } from 'vitest/config';

// Unit tests only: no lab. `npx vitest run --config vitest.unit.config.ts [paths]` while developing.
export default defineConfig({
  test: { include: ['test/**/*.test.ts'], exclude: ['test/lab/**', 'test/e2e/**', 'test/**/*.lab.test.ts'] },
});
