/**
 * The test order for runs that stop an exercise at its first failure (verify's counterexamples
 * phase): within each describe block, the cheapest tests first, so that the first failure comes as
 * early as it can. A wrong implementation caught by a 5 ms test is then not first run through a
 * suite's 2-second real-time tests, as a random order would do about half the time.
 *
 * A test's cost is its duration on the reference solutions: the `tests` entry of the JSON file
 * `LAB_FILE_COSTS` names (`{ "<file from the course root>": { "<describe > test>": ms } }`). Tests
 * without one keep their place after the known ones; describe blocks go by their cheapest test.
 * Before all of them come the tests `LAB_RUN_FIRST` names: those that caught the variant under test
 * last time (verify keeps them in each exercise's `counterexamples/…/caught-by.json`).
 */
import path from 'node:path';
import { type RunnerTask, type RunnerTestFile, TestRunner } from 'vitest';
import { readJsonObject } from './read-json.js';

type Costs = Record<string, Record<string, number>>;

const readTestCosts = () => (readJsonObject(process.env.LAB_FILE_COSTS).tests ?? {}) as Costs;

/** `{ "<file from the course root>": ["<describe > test>", …] }`: tests to run before all others. */
const readRunFirst = () => readJsonObject(process.env.LAB_RUN_FIRST) as Record<string, string[]>;

function fullName(task: RunnerTask): string {
  const names: string[] = [];
  // A file is a suite that is its own file; its name is not part of a test's full name.
  for (let t: RunnerTask | undefined = task; t && t !== t.file; t = t.suite) names.unshift(t.name);
  return names.join(' > ');
}

/** Sorts a block's children cheapest first (stable); returns the block's cheapest cost. */
function sortCheapFirst(task: RunnerTask, costs: Record<string, number>): number {
  if (task.type === 'test') return costs[fullName(task)] ?? Number.POSITIVE_INFINITY;
  const children = 'tasks' in task ? task.tasks : [];
  const cost = new Map(children.map((child) => [child, sortCheapFirst(child, costs)]));
  children.sort((a, b) => (cost.get(a) ?? 0) - (cost.get(b) ?? 0));
  return Math.min(Number.POSITIVE_INFINITY, ...cost.values());
}

export default class CheapFirstRunner extends TestRunner {
  readonly #costs = readTestCosts();
  readonly #runFirst = readRunFirst();

  onCollected(files: RunnerTestFile[]): void {
    for (const file of files) {
      const key = path.relative(this.config.root, file.filepath).replaceAll('\\', '/');
      // The tests that caught this file's exercise last time go first: a cost below every other.
      const costs = { ...this.#costs[key] };
      for (const name of this.#runFirst[key] ?? []) costs[name] = -1;
      sortCheapFirst(file, costs);
    }
  }
}
