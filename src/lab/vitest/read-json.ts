/**
 * Reads the JSON object a run-order hint file holds (LAB_FILE_COSTS, LAB_RUN_FIRST). The hints only
 * order the run, so a missing, unreadable or malformed file is an empty object, never an error.
 */
import { readFileSync } from 'node:fs';

export function readJsonObject(file: string | undefined): Record<string, unknown> {
  if (!file) return {};
  try {
    const parsed: unknown = JSON.parse(readFileSync(file, 'utf8'));
    return parsed && typeof parsed === 'object' ? (parsed as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}
