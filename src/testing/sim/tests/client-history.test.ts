/**
 * Client histories from a run: invokes at the tick the request was sent, completions at the tick the
 * reply arrived, `info` for requests never answered, a fresh process for overlapping requests of one
 * client, duplicates ignored; and the history of a correct register is linearizable.
 */
import { describe, expect, it } from 'vitest';
import { historyOf } from '../client-history.js';
import { type RegisterMsg, registerNode, registerProtocol } from '../examples/register.js';
import { pairOperations } from '../history.js';
import { check } from '../linearizable.js';
import { register } from '../models.js';
import { Simulation } from '../simulation.js';
import { registerScenario } from './register-scenario.js';

const strip = (events: ReturnType<typeof historyOf>) => events.map(({ line: _line, ...event }) => event);

describe('historyOf', () => {
  it('turns requests and replies into invoke and ok events, in the order they happened', () => {
    const sim = new Simulation<RegisterMsg>(1, {
      nodes: { n1: registerNode('primary') },
      network: { latency: { min: 2, max: 2 } },
      operations: [
        { at: 0, client: 'c1', node: 'n1', msg: { type: 'write', id: 1, value: 7 } },
        { at: 1, client: 'c2', node: 'n1', msg: { type: 'read', id: 2 } },
      ],
    }).run(10);
    const events = historyOf(sim, registerProtocol);
    expect(strip(events)).toEqual([
      { process: 'c1', type: 'invoke', f: 'write', value: 7, key: undefined },
      { process: 'c2', type: 'invoke', f: 'read', value: undefined, key: undefined },
      { process: 'c1', type: 'ok', f: 'write', value: undefined, key: undefined, result: undefined },
      { process: 'c2', type: 'ok', f: 'read', value: 7, key: undefined, result: undefined },
    ]);
    expect(events.map((event) => event.line)).toEqual([1, 2, 3, 4]);
  });

  it('gives info to a request never answered, and a fresh process to a client with one still open', () => {
    const sim = new Simulation<RegisterMsg>(1, {
      nodes: { n1: registerNode('primary') },
      network: { latency: { min: 1, max: 1 } },
      faults: [
        { at: 0, kind: 'partition', name: 'cut', groups: [['c1']] },
        { at: 3, kind: 'heal', name: 'cut' },
      ],
      operations: [
        { at: 1, client: 'c1', node: 'n1', msg: { type: 'write', id: 1, value: 1 } },
        { at: 4, client: 'c1', node: 'n1', msg: { type: 'write', id: 2, value: 2 } },
      ],
    }).run(10);
    const events = historyOf(sim, registerProtocol);
    expect(events.map(({ process, type }) => `${process} ${type}`)).toEqual([
      'c1 invoke',
      'c1#2 invoke',
      'c1#2 ok',
      'c1 info',
    ]);
    const ops = pairOperations(events);
    expect(ops.map((op) => op.status)).toEqual(['info', 'ok']);
  });

  it('ignores a duplicated reply and rejects two requests with one id', () => {
    const sim = new Simulation<RegisterMsg>(5, {
      nodes: { n1: registerNode('primary') },
      network: { duplicateRate: 1 },
      operations: [{ at: 0, client: 'c1', node: 'n1', msg: { type: 'read', id: 1 } }],
    }).run(20);
    expect(historyOf(sim, registerProtocol).map((event) => event.type)).toEqual(['invoke', 'ok']);
    const twice = new Simulation<RegisterMsg>(1, {
      nodes: { n1: registerNode('primary') },
      operations: [
        { at: 0, client: 'c1', node: 'n1', msg: { type: 'read', id: 1 } },
        { at: 0, client: 'c2', node: 'n1', msg: { type: 'read', id: 1 } },
      ],
    }).run(1);
    expect(() => historyOf(twice, registerProtocol)).toThrow('two client requests carry operation id 1');
  });

  it('feeds the checker: a primary register under faults is linearizable, seed after seed', () => {
    for (let seed = 1; seed <= 50; seed++) {
      const { scenario, ticks } = registerScenario(seed, { build: 'primary' });
      const sim = new Simulation(seed, scenario).run(ticks);
      expect(check(pairOperations(historyOf(sim, registerProtocol)), register).verdict, `seed ${seed}`).toBe(
        'linearizable',
      );
    }
  });
});
