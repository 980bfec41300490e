/** Slack without Slack: signing and the local Web API recorder live in src/slack/local.ts (the demo uses them). */
export * from '../../src/slack/local.js';
