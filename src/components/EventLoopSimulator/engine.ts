/**
 * A small, deterministic model of Node's event loop (Node 20+/24 semantics), used to step through a
 * snippet. Not an interpreter: a snippet is written twice, as code to show and as the operations the
 * code performs (snippets.ts); the engine plays those operations through the call stack, the
 * process.nextTick queue, the promise microtask queue and the loop phases, recording a step each time
 * something moves. The snippets' expected output is checked against real Node (engine.test.ts).
 *
 * The model, as Node implements it:
 * - After any callback (and after the main script): run every queued nextTick, then every promise
 *   microtask, and repeat until both are empty (process._tickCallback / processTicksAndRejections).
 * - ES modules are evaluated inside a promise job after the loop has started, so promise callbacks
 *   queued by the main module run BEFORE its nextTicks, and the loop continues from the poll phase:
 *   the check phase (setImmediate) comes before the next timers phase.
 * - CommonJS runs the main script before the loop starts: the first phase is timers, and whether a
 *   setTimeout(fn, 0) (really 1 ms) is due by then depends on how long startup took.
 * - fs.readFile is several thread-pool operations (open, stat, read, close); its callback arrives in
 *   the poll phase a couple of loop iterations later, not on the first poll.
 */

export type Op =
  | { kind: 'log'; line: number; text: string }
  | { kind: 'timeout'; line: number; ms: number; task: Task }
  | { kind: 'immediate'; line: number; task: Task }
  | { kind: 'nextTick'; line: number; task: Task }
  | { kind: 'promise'; line: number; task: Task }
  | { kind: 'readFile'; line: number; task: Task }
  | { kind: 'block'; line: number; ms: number };

/** A callback: a short label for the queues and what it does when it runs. */
export interface Task {
  label: string;
  ops: Op[];
}

export type ModuleKind = 'esm' | 'cjs';

export interface RunOptions {
  module: ModuleKind;
  /** CommonJS only: milliseconds from the script's end until the loop first reaches the timers phase. */
  loopStartMs?: number;
}

export type Phase = 'script' | 'timers' | 'poll' | 'check' | 'close';
export type LoopPhase = Exclude<Phase, 'script'>;
export const PHASES: readonly LoopPhase[] = ['timers', 'poll', 'check', 'close'];

export interface Snapshot {
  /** What just happened, in one sentence. */
  note: string;
  /** 1-based line of the snippet being executed, if any. */
  line?: number;
  phase: Phase;
  /** Which queue is being drained right now, if any. */
  draining?: 'nextTick' | 'microtask';
  clock: number;
  stack: string[];
  nextTick: string[];
  microtask: string[];
  timers: string[];
  poll: string[];
  check: string[];
  close: string[];
  output: string[];
}

/** How many poll phases a readFile takes before its callback is ready (open, read/close round trips). */
const READ_FILE_POLLS = 2;
const MAX_STEPS = 2000;

interface Timer {
  task: Task;
  due: number;
  seq: number;
}

interface PendingIo {
  task: Task;
  pollsLeft: number;
}

export function simulate(script: Task, options: RunOptions): Snapshot[] {
  const steps: Snapshot[] = [];
  const stack: string[] = [];
  const nextTicks: Task[] = [];
  const microtasks: Task[] = [];
  const timers: Timer[] = [];
  const io: PendingIo[] = [];
  const readyIo: Task[] = [];
  const immediates: Task[] = [];
  const output: string[] = [];
  let clock = 0;
  let seq = 0;
  let phase: Phase = 'script';
  let draining: Snapshot['draining'];

  const record = (note: string, line?: number) => {
    if (steps.length >= MAX_STEPS) throw new Error('event loop simulation ran away (more than 2000 steps)');
    steps.push({
      note,
      line,
      phase,
      draining,
      clock,
      stack: [...stack],
      nextTick: nextTicks.map((t) => t.label),
      microtask: microtasks.map((t) => t.label),
      timers: [...timers]
        .sort((a, b) => a.due - b.due || a.seq - b.seq)
        .map((t) => `${t.task.label} (due ${t.due} ms)`),
      poll: [
        ...readyIo.map((t) => `${t.label} (ready)`),
        ...io.map((p) => `${p.task.label} (file read in progress)`),
      ],
      check: immediates.map((t) => t.label),
      close: [],
      output: [...output],
    });
  };

  const run = (task: Task, why: string) => {
    stack.push(task.label);
    record(why);
    for (const op of task.ops) execute(op);
    stack.pop();
    record(`${task.label} returns; the call stack is ${stack.length ? 'back to its caller' : 'empty'}.`);
  };

  const execute = (op: Op) => {
    switch (op.kind) {
      case 'log':
        output.push(op.text);
        record(`console.log prints "${op.text}".`, op.line);
        return;
      case 'timeout': {
        const delay = Math.max(1, op.ms); // Node turns 0 into 1 ms.
        timers.push({ task: op.task, due: clock + delay, seq: seq++ });
        record(
          `setTimeout: ${op.task.label} goes into the timers heap, due at ${clock + delay} ms${op.ms < 1 ? ' (0 ms means 1 ms)' : ''}.`,
          op.line,
        );
        return;
      }
      case 'immediate':
        immediates.push(op.task);
        record(`setImmediate: ${op.task.label} joins the check queue.`, op.line);
        return;
      case 'nextTick':
        nextTicks.push(op.task);
        record(`process.nextTick: ${op.task.label} joins the nextTick queue.`, op.line);
        return;
      case 'promise':
        microtasks.push(op.task);
        record(`The promise is already resolved: ${op.task.label} joins the microtask queue.`, op.line);
        return;
      case 'readFile':
        io.push({ task: op.task, pollsLeft: READ_FILE_POLLS });
        record(
          `readFile starts; the thread pool does the reading. ${op.task.label} will run in a poll phase.`,
          op.line,
        );
        return;
      case 'block':
        clock += op.ms;
        record(
          `A synchronous loop blocks the thread for ${op.ms} ms; nothing else can run. The clock is now ${clock} ms.`,
          op.line,
        );
        return;
    }
  };

  const drainNextTicks = () => {
    while (nextTicks.length > 0) {
      draining = 'nextTick';
      const task = nextTicks.shift()!;
      run(task, `The nextTick queue runs ${task.label}.`);
    }
  };
  const drainMicrotasks = () => {
    while (microtasks.length > 0) {
      draining = 'microtask';
      const task = microtasks.shift()!;
      run(task, `The microtask queue runs ${task.label}.`);
    }
  };
  /** What Node does after every callback: nextTicks, then microtasks, until both are empty. */
  const afterCallback = () => {
    while (nextTicks.length > 0 || microtasks.length > 0) {
      drainNextTicks();
      drainMicrotasks();
    }
    draining = undefined;
  };

  // The main script.
  run(
    script,
    options.module === 'esm'
      ? 'The ES module starts running, inside a promise job, before the event loop starts.'
      : 'The CommonJS script starts running, before the event loop starts.',
  );
  if (options.module === 'esm') {
    // The module's own promise job is still on: promise callbacks it queued run first.
    if (microtasks.length > 0) drainMicrotasks();
    afterCallback();
  } else {
    afterCallback();
  }

  const pending = () => timers.length + io.length + readyIo.length + immediates.length > 0;
  const enter = (next: Phase, what: string) => {
    phase = next;
    record(`The loop enters the ${next} phase${what ? `: ${what}` : '.'}`);
  };

  // Both kinds of main module run before the loop's first turn (measured on Node 24.21: an ES module's
  // top level differs only in draining promise jobs before nextTicks). Whether a 0 ms timer is due
  // on the first timers phase depends on how long start-up took: `loopStartMs`.
  let startAt: LoopPhase = 'timers';
  clock += options.loopStartMs ?? 0;
  let iterations = 0;
  while (pending() && iterations++ < 50) {
    for (const current of PHASES.slice(PHASES.indexOf(startAt))) {
      if (current === 'timers') {
        const due = timers.filter((t) => t.due <= clock).sort((a, b) => a.due - b.due || a.seq - b.seq);
        if (due.length === 0) {
          if (timers.length > 0) enter('timers', `no timer is due yet at ${clock} ms.`);
          continue;
        }
        enter('timers', `${due.length} timer(s) due at ${clock} ms.`);
        for (const timer of due) {
          timers.splice(timers.indexOf(timer), 1);
          run(timer.task, `The timers phase runs ${timer.task.label}.`);
          afterCallback();
        }
      } else if (current === 'poll') {
        for (const p of io) p.pollsLeft--;
        for (const p of io.filter((x) => x.pollsLeft <= 0)) {
          io.splice(io.indexOf(p), 1);
          readyIo.push(p.task);
        }
        const nothingElse = immediates.length === 0 && readyIo.length === 0;
        if (readyIo.length === 0) {
          if (io.length > 0 || nothingElse)
            enter(
              'poll',
              io.length > 0
                ? 'a file read is still in the thread pool, so the loop checks for finished I/O and moves on.'
                : '',
            );
          if (nothingElse && io.length === 0 && timers.length > 0) {
            const next = Math.min(...timers.map((t) => t.due));
            if (next > clock) {
              clock = next;
              record(`Nothing else to do: the poll phase sleeps until the next timer is due (${clock} ms).`);
            }
          }
          continue;
        }
        enter('poll', `${readyIo.length} I/O callback(s) ready.`);
        while (readyIo.length > 0) {
          const task = readyIo.shift()!;
          run(task, `The poll phase runs the I/O callback ${task.label}.`);
          afterCallback();
        }
      } else if (current === 'check') {
        if (immediates.length === 0) continue;
        enter('check', `${immediates.length} setImmediate callback(s).`);
        // Only the immediates queued before this phase began run now; new ones wait a turn.
        for (const task of immediates.splice(0, immediates.length)) {
          run(task, `The check phase runs ${task.label}.`);
          afterCallback();
        }
      }
      // close: no close callbacks in these snippets.
    }
    startAt = 'timers';
    clock += 0.5; // each turn of the loop takes a little time
  }
  phase = 'script';
  record('Nothing is left: no timers, no I/O, no immediates. The process exits.');
  return steps;
}
