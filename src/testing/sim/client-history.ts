/**
 * A simulation's client traffic as a Jepsen history: each request a client sent becomes an `invoke` at
 * the tick it was sent, the first reply that answers it an `ok` or `fail` at the tick the reply
 * arrived, and a request still unanswered at the end an `info` (its outcome unknown). So a test can
 * write `check(pairOperations(historyOf(sim, protocol)), register)`.
 *
 * The events are read from the run's trace, in the order they happened: a client's request is a `send`
 * record whose sender is not a node, a reply a `deliver` record to such a client. What a message means
 * is the caller's {@link ClientProtocol}: which operation a request invokes, and which operation a reply
 * answers and how, correlated by an operation id the messages carry.
 */

import type { HistoryEvent, Process } from './history.js';
import type { TraceRecord } from './trace.js';

/** An operation id a request and its replies share (a number or a string the client chose). */
export type OperationId = string | number;

/** What a client's request invokes. */
export interface Invocation {
  readonly id: OperationId;
  /** Jepsen's operation name: `read`, `write`, `cas`, `get`, `put`, `append`, `add`... */
  readonly f: string;
  readonly value?: unknown;
  readonly key?: unknown;
}

/** How a reply completes its operation: `ok` (with what it returned) or `fail` (it did not happen). */
export interface Completion {
  readonly id: OperationId;
  readonly type: 'ok' | 'fail' | 'info';
  /** An `ok` read's value. */
  readonly value?: unknown;
  /** A `cas` completion's outcome. */
  readonly result?: unknown;
}

/** What the client messages of a run mean; both functions return `undefined` for other messages. */
export interface ClientProtocol<M> {
  /** The operation a request from `client` invokes, or `undefined` to leave the message out. */
  request(msg: M, client: string): Invocation | undefined;
  /** The operation a reply to `client` completes, and how; `undefined` if it answers none. */
  reply(msg: M, client: string): Completion | undefined;
}

/** The parts of a run the history is read from (a `Simulation` has both). */
export interface ClientRun {
  readonly trace: readonly TraceRecord[];
  /** The node names: every other sender in the trace is a client. */
  readonly nodeIds: readonly string[];
}

/**
 * The history of the client operations of `run`, in the order they happened, with `line` numbering
 * the events from 1. The process of an operation is its client's name; a client that sends a request
 * while one of its earlier operations is still open (no reply yet) gets a fresh process for it,
 * `client#2`, `client#3`..., as Jepsen does after an indeterminate operation, so that every process has
 * at most one operation open. A second reply to a completed operation (a duplicate) is ignored.
 * @throws {Error} when two requests carry the same operation id
 */
export function historyOf<M>(run: ClientRun, protocol: ClientProtocol<M>): HistoryEvent[] {
  const nodes = new Set(run.nodeIds);
  interface Open {
    readonly process: Process;
    readonly f: string;
    readonly key?: unknown;
  }
  const open = new Map<OperationId, Open>();
  const seen = new Set<OperationId>();
  /** The processes with an operation open. */
  const busy = new Set<Process>();
  const lanes = new Map<string, number>();
  const events: HistoryEvent[] = [];
  const push = (event: Omit<HistoryEvent, 'line'>): void => {
    events.push({ ...event, line: events.length + 1 });
  };
  const processFor = (client: string): Process => {
    let process: Process = client;
    while (busy.has(process)) {
      const lane = (lanes.get(client) ?? 1) + 1;
      lanes.set(client, lane);
      process = `${client}#${lane}`;
    }
    return process;
  };
  for (const record of run.trace) {
    if (record.kind === 'send' && !nodes.has(record.from)) {
      const invocation = protocol.request(record.msg as M, record.from);
      if (!invocation) continue;
      const { id, f, value, key } = invocation;
      if (seen.has(id)) throw new Error(`two client requests carry operation id ${JSON.stringify(id)}`);
      seen.add(id);
      const process = processFor(record.from);
      busy.add(process);
      open.set(id, { process, f, key });
      push({ process, type: 'invoke', f, value, key });
    } else if (record.kind === 'deliver' && !nodes.has(record.to)) {
      const completion = protocol.reply(record.msg as M, record.to);
      const operation = completion && open.get(completion.id);
      if (!(completion && operation)) continue;
      open.delete(completion.id);
      busy.delete(operation.process);
      const { type, value, result } = completion;
      push({ process: operation.process, type, f: operation.f, value, key: operation.key, result });
    }
  }
  for (const { process, f, key } of open.values()) push({ process, type: 'info', f, key });
  return events;
}
