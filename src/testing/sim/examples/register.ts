/**
 * A replicated register on the simulator, in two builds, for tests that need a cluster whose clients'
 * history is known to be linearizable or known to go wrong:
 *
 * - `primary`: every request is forwarded to node n1, which alone holds the value and answers
 *   (linearizable);
 * - `ack-early`: a node applies a write, acknowledges it at once and only then replicates it to its
 *   peers, and answers reads from its own copy ("write locally, replicate async", as in the worked
 *   example of docs/maintainers/sim-kit.mdx): a read elsewhere can miss an acknowledged write.
 *
 * Used by the kit's own tests (`tests/register-scenario.ts`) and by chapter 12's linearizability
 * exercise (`exercises/12-distributed/linearizability/harness.ts`); each builds its own scenarios.
 */

import type { ClientProtocol } from '../client-history.js';
import type { NodeFactory } from '../simulation.js';

/** The register's messages: client requests and replies, forwarding and replication between nodes. */
export type RegisterMsg =
  | { readonly type: 'write'; readonly id: number; readonly value: number }
  | { readonly type: 'read'; readonly id: number }
  | { readonly type: 'write_ok'; readonly id: number }
  | { readonly type: 'read_ok'; readonly id: number; readonly value: number | null }
  | { readonly type: 'forward'; readonly client: string; readonly request: RegisterMsg }
  | { readonly type: 'replicate'; readonly value: number };

/** How the register behaves (see the module's comment). */
export type RegisterBuild = 'primary' | 'ack-early';

/** A register node of the given build; it persists its value, so a restart keeps it. */
export function registerNode(build: RegisterBuild): NodeFactory<RegisterMsg> {
  return (context) => {
    let value = context.recover<number | null>() ?? null;
    const store = (next: number): void => {
      value = next;
      context.persist(value);
    };
    // A duplicated write must not be applied again later, over a newer one.
    const applied = new Set<number>();
    const serve = (client: string, request: RegisterMsg): void => {
      if (request.type === 'write') {
        context.send(client, { type: 'write_ok', id: request.id });
        if (applied.has(request.id)) return;
        applied.add(request.id);
        store(request.value);
        if (build === 'ack-early') {
          for (const peer of context.peers) context.send(peer, { type: 'replicate', value: request.value });
        }
      } else if (request.type === 'read') {
        context.send(client, { type: 'read_ok', id: request.id, value });
      }
    };
    return {
      onMessage(from, msg) {
        if (msg.type === 'forward') serve(msg.client, msg.request);
        else if (msg.type === 'replicate') store(msg.value);
        else if (build === 'primary' && context.id !== 'n1')
          context.send('n1', { type: 'forward', client: from, request: msg });
        else serve(from, msg);
      },
    };
  };
}

/** What the register's client messages mean, for `historyOf` (`client-history.ts`). */
export const registerProtocol: ClientProtocol<RegisterMsg> = {
  request: (msg) =>
    msg.type === 'write'
      ? { id: msg.id, f: 'write', value: msg.value }
      : msg.type === 'read'
        ? { id: msg.id, f: 'read' }
        : undefined,
  reply: (msg) =>
    msg.type === 'write_ok'
      ? { id: msg.id, type: 'ok' }
      : msg.type === 'read_ok'
        ? { id: msg.id, type: 'ok', value: msg.value }
        : undefined,
};
