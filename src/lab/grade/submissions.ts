/**
 * Finds the submissions in what the instructor named: a learner's copy of the course (a folder with
 * an `exercises/` folder), a folder of such copies (one subfolder per learner, named by the
 * learner's id), or a `.zip` / `.tar.gz` / `.tgz` / `.tar` of either, unpacked into a temp folder.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { UsageError } from '../ui.js';

export interface Submission {
  /** The learner's id: the folder's (or archive's) name. */
  readonly learner: string;
  /** The learner's copy of the course: it has an `exercises/` folder. */
  readonly root: string;
}

const ARCHIVE = /\.(zip|tar\.gz|tgz|tar)$/i;

const isCourseCopy = (dir: string) => isDir(path.join(dir, 'exercises'));

function isDir(p: string): boolean {
  try {
    return statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Every submission under `paths`, in a stable order, each learner id once.
 * @param unpackDir an empty temp folder where archives are unpacked
 * @throws {UsageError} for a path that is neither, or two submissions with the same learner id
 */
export function findSubmissions(paths: readonly string[], unpackDir: string): Submission[] {
  const found: Submission[] = [];
  for (const given of paths) {
    const p = path.resolve(given);
    if (!existsSync(p)) throw new UsageError(`${given}: no such file or folder.`);
    if (ARCHIVE.test(p) && statSync(p).isFile()) {
      const learner = path.basename(p).replace(ARCHIVE, '');
      const dest = path.join(unpackDir, `${readdirSync(unpackDir).length}-${learner}`);
      unpack(p, dest);
      found.push(...inFolder(unwrap(dest), learner, given, unpackDir));
    } else if (isDir(p)) {
      found.push(...inFolder(p, path.basename(p), given, unpackDir));
    } else {
      throw new UsageError(`${given}: not a folder, .zip or .tar.gz.`);
    }
  }
  const seen = new Set<string>();
  for (const s of found) {
    if (seen.has(s.learner))
      throw new UsageError(`Two submissions are called "${s.learner}"; rename one folder or archive.`);
    seen.add(s.learner);
  }
  return found;
}

function inFolder(dir: string, learner: string, given: string, unpackDir: string): Submission[] {
  if (isCourseCopy(dir)) return [{ learner, root: dir }];
  const copies = readdirSync(dir)
    .filter((name) => !name.startsWith('.'))
    .sort()
    .flatMap((name): Submission[] => {
      let sub = path.join(dir, name);
      let id = name;
      if (ARCHIVE.test(name) && statSync(sub).isFile()) {
        id = name.replace(ARCHIVE, '');
        const dest = path.join(unpackDir, `${readdirSync(unpackDir).length}-${id}`);
        unpack(sub, dest);
        sub = dest;
      }
      return isDir(sub) && isCourseCopy(unwrap(sub)) ? [{ learner: id, root: unwrap(sub) }] : [];
    });
  if (copies.length === 0)
    throw new UsageError(
      `${given}: neither a copy of the course (it has no exercises/ folder) nor a folder of such copies.`,
    );
  return copies;
}

/** An archive or folder holding a single folder (`alice/` or `system-design-lab-main/`): that folder. */
function unwrap(dir: string): string {
  if (isCourseCopy(dir)) return dir;
  const entries = readdirSync(dir).filter((n) => !n.startsWith('.') && n !== '__MACOSX');
  const only = entries[0];
  if (entries.length === 1 && only && isDir(path.join(dir, only))) return unwrap(path.join(dir, only));
  return dir;
}

function unpack(archive: string, dest: string): void {
  mkdirSync(dest, { recursive: true });
  try {
    if (/\.zip$/i.test(archive)) execFileSync('unzip', ['-q', '-o', archive, '-d', dest], { stdio: 'pipe' });
    else execFileSync('tar', ['-xf', archive, '-C', dest, '--no-same-owner'], { stdio: 'pipe' });
  } catch (error) {
    const detail = String((error as { stderr?: Buffer }).stderr ?? (error as Error).message).trim();
    throw new UsageError(`${archive}: could not unpack it (${detail.split('\n')[0]}).`);
  }
}
