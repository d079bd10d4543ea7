/**
 * A Docusaurus plugin that reads every `exercises/<chapter>/<exercise>/exercise.json` at build time
 * and publishes what `<ExerciseList>` shows as global data. No exercise data is written twice: the
 * manifests are the only source, read by the lab's own loadCourse/parseManifest (in
 * read-exercises.ts, run in a child process: see there why).
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import type { LoadContext, Plugin } from '@docusaurus/types';
import type { ExerciseData, ExercisesGlobalData } from './exercise-data';

export const exercisesPluginName = 'lab-exercises';

function readExercises(root: string): ExerciseData[] {
  const script = path.join(root, 'src/plugins/read-exercises.ts');
  let out: string;
  try {
    out = execFileSync(process.execPath, ['--import', 'tsx', script, root], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    });
  } catch {
    // The reason (each bad manifest and field) is already on stderr.
    throw new Error('[lab-exercises] could not read the exercise manifests (see the message above)');
  }
  return JSON.parse(out) as ExerciseData[];
}

export default function exercisesPlugin(context: LoadContext): Plugin<ExerciseData[]> {
  const root = context.siteDir;
  return {
    name: exercisesPluginName,
    getPathsToWatch: () => [path.join(root, 'exercises/*/*/exercise.json')],
    loadContent: async () => readExercises(root),
    contentLoaded: async ({ content, actions }) => {
      const byChapter: ExercisesGlobalData['byChapter'] = {};
      for (const exercise of content) {
        const chapter = exercise.id.split('/')[0]!;
        byChapter[chapter] ??= [];
        byChapter[chapter].push(exercise);
      }
      actions.setGlobalData({ byChapter } satisfies ExercisesGlobalData);
    },
  };
}
