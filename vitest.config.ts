import { defineConfig } from 'vitest/config';

// One real lab per test run: test/global-setup.ts brings it up once, the files share it and run one at a
// time (they inject faults into the same cluster). Unit tests do not touch the lab and stay fast.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    fileParallelism: false,
    testTimeout: 60_000,
    hookTimeout: 180_000,
    reporters: ['default'],
  },
});
