#!/usr/bin/env node
// Thin launcher: the CLI is compiled to dist/ by `npm run build`.
import { main } from '../dist/src/cli/main.js';

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err) => {
    console.error(`fabric-opsbot: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 3;
  },
);
