/**
 * `<Quiz questions={[...]} />`: check-yourself questions. Single answer (radio buttons) or multiple
 * answers (check boxes); after "Check" every choice shows whether it is right and why. Native form
 * controls, so it is fully keyboard accessible; state lives in the page only (nothing is stored).
 */
import { type ReactNode, useId, useState } from 'react';
import styles from './styles.module.css';

export interface QuizChoice {
  text: ReactNode;
  correct?: boolean;
  /** Why this choice is right or wrong; shown after checking. */
  explanation: ReactNode;
}

export interface QuizQuestion {
  prompt: ReactNode;
  /** true: several choices may be correct (check boxes). Default false (radio buttons). */
  multiple?: boolean;
  choices: QuizChoice[];
}

export interface QuizProps {
  questions: QuizQuestion[];
  title?: string;
}

/**
 * Quiz text is written as plain strings in MDX props, where Markdown is not parsed: `backticks` would
 * show literally. Strings get inline code rendered; anything else (JSX) is left as it is.
 */
export function inlineCode(text: ReactNode): ReactNode {
  if (typeof text !== 'string' || !text.includes('`')) return text;
  const parts = text.split(/(`[^`]+`)/);
  return parts.map((part, i) =>
    part.length > 2 && part.startsWith('`') && part.endsWith('`') ? (
      // biome-ignore lint/suspicious/noArrayIndexKey: a fixed split of a fixed string
      <code key={i}>{part.slice(1, -1)}</code>
    ) : (
      part
    ),
  );
}

function isRight(question: QuizQuestion, picked: ReadonlySet<number>): boolean {
  return question.choices.every((choice, i) => Boolean(choice.correct) === picked.has(i));
}

function Question({ question, index }: { question: QuizQuestion; index: number }): ReactNode {
  const id = useId();
  const [picked, setPicked] = useState<ReadonlySet<number>>(new Set());
  const [checked, setChecked] = useState(false);
  const multiple = question.multiple ?? false;
  const right = checked && isRight(question, picked);

  const toggle = (i: number) => {
    setChecked(false);
    setPicked((prev) => {
      if (!multiple) return new Set([i]);
      const next = new Set(prev);
      if (next.has(i)) next.delete(i);
      else next.add(i);
      return next;
    });
  };

  return (
    <fieldset className={styles.question} data-quiz-question={index}>
      <legend className={styles.prompt}>
        <span className={styles.qnumber}>{index + 1}.</span> {inlineCode(question.prompt)}
        <span className={styles.kind}>{multiple ? ' (choose all that apply)' : ' (choose one)'}</span>
      </legend>
      <ul className={styles.choices}>
        {question.choices.map((choice, i) => {
          const inputId = `${id}-${i}`;
          const isPicked = picked.has(i);
          const verdict = checked ? (choice.correct ? 'correct' : isPicked ? 'wrong' : 'neutral') : undefined;
          return (
            // biome-ignore lint/suspicious/noArrayIndexKey: choices are a fixed list
            <li key={i} className={styles.choice} data-verdict={verdict}>
              <input
                id={inputId}
                type={multiple ? 'checkbox' : 'radio'}
                name={id}
                checked={isPicked}
                onChange={() => toggle(i)}
              />
              <label htmlFor={inputId}>{inlineCode(choice.text)}</label>
              {checked && (isPicked || choice.correct) && (
                <div className={styles.explanation}>
                  <strong>
                    {choice.correct ? (isPicked ? 'Right. ' : 'You missed this one. ') : 'Not quite. '}
                  </strong>
                  {inlineCode(choice.explanation)}
                </div>
              )}
            </li>
          );
        })}
      </ul>
      <div className={styles.actions}>
        <button
          type="button"
          className="button button--primary button--sm"
          disabled={picked.size === 0}
          onClick={() => setChecked(true)}
        >
          Check
        </button>
        {checked && (
          <button
            type="button"
            className="button button--secondary button--sm"
            onClick={() => {
              setPicked(new Set());
              setChecked(false);
            }}
          >
            Try again
          </button>
        )}
        <output
          className={styles.result}
          aria-live="polite"
          data-result={checked ? String(right) : undefined}
        >
          {checked ? (right ? 'Correct!' : 'Not yet: read the explanations and try again.') : ''}
        </output>
      </div>
    </fieldset>
  );
}

export default function Quiz({ questions, title = 'Check yourself' }: QuizProps): ReactNode {
  return (
    <section className={styles.quiz} aria-label={title}>
      {questions.map((question, index) => (
        // biome-ignore lint/suspicious/noArrayIndexKey: questions are a fixed list
        <Question key={index} question={question} index={index} />
      ))}
    </section>
  );
}
