/** Docker Engine API: clients per endpoint, gathering container state/logs/probes, actions, host processes. */
export * from './client.js';
export * from './gather.js';
export * from './actions.js';
export * from './signatures.js';
export * from './hostproc.js';
export {
  demuxDockerStream,
  parseLogLines,
  splitTimestamp,
  type StreamChunk,
  type StreamName,
} from './stream.js';
export { tarArchive, type TarEntry } from './tar.js';
export * from './snapshot.js';
