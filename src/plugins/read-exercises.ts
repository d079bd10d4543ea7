/**
 * Prints the course's exercises as JSON (ExerciseData[]) on stdout. Run by the exercises plugin in a
 * child process with tsx, because Docusaurus loads its config through jiti, which cannot load zod 4's
 * ESM build that src/lab/manifest.ts uses. Same loader as the lab CLI: loadCourse + parseManifest.
 *
 *   npx tsx src/plugins/read-exercises.ts [root]
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { CourseError, courseRoot, loadCourse } from '../lab/course.js';
import { type Manifest, ManifestError, parseManifest } from '../lab/manifest.js';
import type { ExerciseData } from './exercise-data.js';

function toData(id: string, manifest: Manifest): ExerciseData {
  return {
    id,
    title: manifest.title,
    summary: manifest.summary,
    difficulty: manifest.difficulty,
    minutes: manifest.minutes,
    concepts: manifest.concepts,
    files: manifest.files.map((file) => `exercises/${id}/${file}`),
    needs: manifest.needs,
    points: manifest.points,
    test: `npm test -- ${id}`,
    hint: `npm run hint -- ${id}`,
    hintsFile: `exercises/${id}/HINTS.md`,
    serve: manifest.serve ? `npm run serve -- ${id}` : undefined,
    bench: manifest.bench ? `npm run bench -- ${id}` : undefined,
  };
}

/**
 * While chapters are being written the course can be briefly inconsistent (a solution file missing,
 * say). `npm run verify` reports that; the site still shows every manifest that parses, and warns.
 */
function readLeniently(root: string, problems: readonly string[]): ExerciseData[] {
  console.error(
    `[lab-exercises] warning: the course is inconsistent (npm run verify names it):\n  ${problems.join('\n  ')}`,
  );
  const exercisesDir = path.join(root, 'exercises');
  const found: ExerciseData[] = [];
  for (const chapter of readdirSync(exercisesDir).sort()) {
    const chapterDir = path.join(exercisesDir, chapter);
    if (!/^\d\d-/.test(chapter)) continue;
    for (const name of readdirSync(chapterDir).sort()) {
      const file = path.join(chapterDir, name, 'exercise.json');
      if (!existsSync(file)) continue;
      try {
        found.push(
          toData(`${chapter}/${name}`, parseManifest(path.relative(root, file), readFileSync(file, 'utf8'))),
        );
      } catch (error) {
        if (!(error instanceof ManifestError)) throw error;
      }
    }
  }
  return found;
}

export function readExercises(root: string): ExerciseData[] {
  try {
    return loadCourse(root).exercises.map((exercise) => toData(exercise.id, exercise.manifest));
  } catch (error) {
    if (error instanceof CourseError) return readLeniently(root, error.problems);
    throw error;
  }
}

process.stdout.write(JSON.stringify(readExercises(process.argv[2] ?? courseRoot)));
