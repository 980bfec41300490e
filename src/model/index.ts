export * from './finding.js';
export * from './snapshot.js';
export * from './report.js';
export * from './repair.js';
