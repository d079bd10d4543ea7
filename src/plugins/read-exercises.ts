/**
 * Prints the course's exercises as JSON (ExerciseData[]) on stdout. Run by the exercises plugin in a
 * child process with tsx, because Docusaurus loads its config through jiti, which cannot load zod 4's
 * ESM build that src/lab/manifest.ts uses. Same loader as the lab CLI: loadCourse + parseManifest.
 *
 *   npx tsx src/plugins/read-exercises.ts [root]
 */
import { CourseError, courseRoot, loadCourse } from '../lab/course.js';
import type { Manifest } from '../lab/manifest.js';
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
 * The exercises the site lists. A manifest that does not parse fails the build (the lab commands fail
 * the same way): a silently missing exercise would be a page that lies about the course. Other
 * inconsistencies (a chapter still being written) are `npm run verify`'s to report.
 */
export function readExercises(root: string): ExerciseData[] {
  return loadCourse(root).exercises.map((exercise) => toData(exercise.id, exercise.manifest));
}

try {
  process.stdout.write(JSON.stringify(readExercises(process.argv[2] ?? courseRoot)));
} catch (error) {
  if (!(error instanceof CourseError)) throw error;
  console.error(`[lab-exercises] ${error.message}`);
  process.exitCode = 1;
}
