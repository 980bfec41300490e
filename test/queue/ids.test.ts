import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { actionJobId, checkSchedulerId, commandJobId, isValidJobId } from '../../src/queue/index.js';

const body = {
  team_id: 'T1',
  channel_id: 'C1',
  user_id: 'U1',
  command: '/fabric',
  text: 'status pubchain',
  trigger_id: '123.456.abc',
};

describe('job ids', () => {
  it('are the same for the same request body (what a Slack retry resends)', () => {
    expect(commandJobId(body)).toBe(commandJobId({ ...body }));
    expect(commandJobId(body)).toBe(commandJobId({ ...body, text: ' status pubchain ' }));
  });

  it('differ when anything that identifies the request differs', () => {
    const base = commandJobId(body);
    for (const k of Object.keys(body) as (keyof typeof body)[]) {
      expect(commandJobId({ ...body, [k]: `${body[k]}x` }), k).not.toBe(base);
    }
  });

  it('cannot be confused by moving text between fields', () => {
    expect(commandJobId({ ...body, channel_id: 'C1|U1', user_id: '' })).not.toBe(
      commandJobId({ ...body, channel_id: 'C1', user_id: '|U1' }),
    );
  });

  it('are valid BullMQ ids: no ":" and never an integer', () => {
    fc.assert(
      fc.property(
        fc.record({
          team_id: fc.string(),
          channel_id: fc.string(),
          user_id: fc.string(),
          text: fc.string(),
          trigger_id: fc.string(),
        }),
        (b) => {
          const id = commandJobId(b);
          expect(id).toMatch(/^cmd-[0-9a-f]{40}$/);
          expect(isValidJobId(id)).toBe(true);
        },
      ),
    );
    expect(actionJobId({ actionId: 'repair_request', userId: 'U1', actionTs: '1.2' })).toMatch(
      /^act-[0-9a-f]{40}$/,
    );
    expect(isValidJobId(checkSchedulerId('lab.prod_1'))).toBe(true);
    expect(isValidJobId('12')).toBe(false);
    expect(isValidJobId('a:b')).toBe(false);
  });
});
