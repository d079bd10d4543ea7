/**
 * `<ExerciseList chapter="08-traffic" />`: the chapter's exercises, generated at build time from the
 * manifests (src/plugins/exercises.ts). Never retype exercise data in a page.
 */
import { usePluginData } from '@docusaurus/useGlobalData';
import type { ReactNode } from 'react';
import { allChapters } from '../../course/syllabus';
import type { ExerciseData, ExercisesGlobalData } from '../../plugins/exercise-data';
import styles from './styles.module.css';

const difficultyLabel = { 1: 'Warm-up', 2: 'Solid', 3: 'Hard' } as const;

function Command({ label, command }: { label: string; command: string }): ReactNode {
  return (
    <div className={styles.command}>
      <span className={styles.commandLabel}>{label}</span>
      <code>{command}</code>
    </div>
  );
}

function ExerciseCard({ exercise, index }: { exercise: ExerciseData; index: number }): ReactNode {
  return (
    <li className={styles.card} data-exercise={exercise.id}>
      <div className={styles.header}>
        <h3 className={styles.title}>
          <span className={styles.number}>{index + 1}.</span> {exercise.title}
        </h3>
        <div className={styles.meta}>
          <span
            className={styles.badge}
            data-difficulty={exercise.difficulty}
            title={`Difficulty ${exercise.difficulty} of 3`}
          >
            {difficultyLabel[exercise.difficulty]}
          </span>
          <span className={styles.badge}>~{exercise.minutes} min</span>
          {exercise.needs.includes('redis') && <span className={styles.badge}>needs Redis</span>}
        </div>
      </div>
      <p className={styles.summary}>{exercise.summary}</p>
      <div className={styles.files}>
        <span className={styles.commandLabel}>Edit</span>
        <ul>
          {exercise.files.map((file) => (
            <li key={file}>
              <code>{file}</code>
            </li>
          ))}
        </ul>
      </div>
      <Command label="Test" command={exercise.test} />
      <Command label="Hints" command={exercise.hint} />
      {exercise.serve && <Command label="Run it" command={exercise.serve} />}
      {exercise.bench && <Command label="Benchmark" command={exercise.bench} />}
      <p className={styles.hintNote}>
        The hints are progressive (<code>{exercise.hintsFile}</code>); each <code>npm run hint</code> shows
        the next one.
      </p>
    </li>
  );
}

export interface ExerciseListProps {
  /** The chapter slug, e.g. `08-traffic`. */
  chapter: string;
}

export default function ExerciseList({ chapter }: ExerciseListProps): ReactNode {
  const data = usePluginData('lab-exercises') as ExercisesGlobalData | undefined;
  if (!allChapters.some((c) => c.slug === chapter)) {
    throw new Error(`<ExerciseList chapter="${chapter}">: not a chapter of src/course/syllabus.ts`);
  }
  const exercises = data?.byChapter[chapter] ?? [];
  if (exercises.length === 0) {
    return <p className={styles.empty}>This chapter's exercises are not written yet.</p>;
  }
  return (
    <ol className={styles.list} aria-label="Exercises">
      {exercises.map((exercise, index) => (
        <ExerciseCard key={exercise.id} exercise={exercise} index={index} />
      ))}
    </ol>
  );
}
