/** Named repair arguments (from Slack buttons and `repair request k=v`) mapped to a kind's parameters. */
import { describe, expect, it } from 'vitest';
import { positionalArgs } from '../../src/ops/repair-run.js';

describe('positionalArgs', () => {
  it('maps names to the kind’s parameters in order', () => {
    expect(positionalArgs('raise-replication', { rf: 3, topic: 'pubchain' })).toEqual(['pubchain', '3']);
    expect(positionalArgs('restart-container', { broker: 3 })).toEqual(['3']);
    expect(positionalArgs('pad-channel', {})).toEqual([]);
  });

  it('refuses two names for one parameter instead of dropping one', () => {
    expect(() => positionalArgs('restart-container', { container: 'kafka1', broker: 3 })).toThrow(
      'repair restart-container: give one of container, broker, not 2',
    );
  });

  it('refuses names the kind does not take', () => {
    expect(() => positionalArgs('drain-broker', { broker: 2, force: 'yes' })).toThrow(
      'repair drain-broker: unexpected argument force (takes: broker)',
    );
  });
});
