import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { simulate } from './engine';
import { snippets } from './snippets';

describe('event loop simulator snippets', () => {
  for (const snippet of snippets) {
    for (const variant of snippet.variants) {
      it(`${snippet.id} (${variant.label}): the engine prints what Node prints`, () => {
        const steps = simulate(snippet.script, variant);
        expect(steps.at(-1)?.output, 'the simulated output must match the snippet’s expected output').toEqual(
          variant.expected,
        );
      });
    }
  }

  // Deterministic variants only (CommonJS timer-vs-immediate order depends on startup time).
  const checked = snippets.flatMap((s) =>
    s.variants.filter((v) => v.loopStartMs === undefined).map((v) => ({ snippet: s, variant: v })),
  );
  for (const { snippet, variant } of checked) {
    it(`${snippet.id} (${variant.label}): the expected output is what real Node prints`, () => {
      const dir = mkdtempSync(path.join(tmpdir(), 'event-loop-snippet-'));
      try {
        let code = snippet.code;
        if (variant.module === 'cjs') {
          code = code
            .replace(/^import \{ (\w+) \} from '(node:\w+)';$/m, "const { $1 } = require('$2');")
            .replace(/import\.meta\.filename/g, '__filename');
        }
        const file = path.join(dir, variant.module === 'esm' ? 'snippet.mjs' : 'snippet.cjs');
        writeFileSync(file, code);
        const printed = execFileSync(process.execPath, [file], { encoding: 'utf8' }).trim().split('\n');
        expect(printed, `node ${path.basename(file)} must print the expected lines`).toEqual(
          variant.expected,
        );
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  }
});
