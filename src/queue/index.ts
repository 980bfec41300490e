export * from './jobs.js';
export * from './ids.js';
export * from './producer.js';
export * from './schedules.js';
export * from './repairs.js';
