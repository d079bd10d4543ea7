/**
 * `<CourseMap />`: the home page's map of the course, drawn from src/course/syllabus.ts. A mermaid
 * diagram of every part and chapter (chapters not written yet are dashed), then the parts as lists
 * linking to the chapters that exist.
 */
import Link from '@docusaurus/Link';
import { useAllDocsData } from '@docusaurus/plugin-content-docs/client';
import Mermaid from '@theme/Mermaid';
import type { ReactNode } from 'react';
import { syllabus } from '../../course/syllabus';
import styles from './styles.module.css';

/** doc id -> permalink for every doc of the site's (only) docs version. */
function useDocPaths(): Map<string, string> {
  const all = useAllDocsData();
  const paths = new Map<string, string>();
  for (const plugin of Object.values(all)) {
    for (const version of plugin.versions) for (const doc of version.docs) paths.set(doc.id, doc.path);
  }
  return paths;
}

function chapterPath(paths: Map<string, string>, slug: string): string | undefined {
  return paths.get(slug) ?? paths.get(`${slug}/index`);
}

const quote = (text: string) => `"${text.replace(/"/g, '#quot;')}"`;

/** The mermaid source for the map; exported for the maintainers page and the browser checks. */
export function courseMapDiagram(isWritten: (slug: string) => boolean): string {
  const lines = ['flowchart TB'];
  syllabus.forEach((part, p) => {
    lines.push(`  subgraph P${p}[${quote(part.title)}]`, '    direction LR');
    const ids = part.chapters.map((chapter) => {
      const [number] = chapter.slug.split('-');
      const id = `C${number}`;
      lines.push(`    ${id}[${quote(`${number} · ${chapter.title}`)}]`);
      if (!isWritten(chapter.slug)) lines.push(`    class ${id} soon`);
      return id;
    });
    // Invisible links keep the chapters in syllabus order within the part.
    if (ids.length > 1) lines.push(`    ${ids.join(' ~~~ ')}`);
    lines.push('  end');
    if (p > 0) lines.push(`  P${p - 1} --> P${p}`);
  });
  lines.push('  classDef soon stroke-dasharray: 5 5,opacity:0.6');
  return lines.join('\n');
}

export default function CourseMap(): ReactNode {
  const paths = useDocPaths();
  const diagram = courseMapDiagram((slug) => chapterPath(paths, slug) !== undefined);
  return (
    <div className={styles.map}>
      <figure className={styles.figure}>
        <Mermaid value={diagram} />
        <figcaption>The course's parts in order. Dashed chapters are still being written.</figcaption>
      </figure>
      <div className={styles.parts}>
        {syllabus.map((part) => (
          <section key={part.title} className={styles.part}>
            <h3>{part.title}</h3>
            <ul>
              {part.chapters.map((chapter) => {
                const to = chapterPath(paths, chapter.slug);
                const [number] = chapter.slug.split('-');
                return (
                  <li key={chapter.slug}>
                    <span className={styles.number}>{number}</span>{' '}
                    {to ? (
                      <Link to={to}>{chapter.title}</Link>
                    ) : (
                      <span className={styles.soon}>{chapter.title} (coming)</span>
                    )}
                  </li>
                );
              })}
            </ul>
          </section>
        ))}
      </div>
    </div>
  );
}
