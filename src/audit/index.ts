export * from './chain.js';
export * from './scrub.js';
export * from './log.js';
