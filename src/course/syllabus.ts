/**
 * The course's parts and chapters in syllabus order (../shared/COURSE-DESIGN.md §5).
 *
 * This is the one place chapter titles and their grouping into parts are written. The sidebar,
 * the home page's course map and the learner tools read it; a chapter appears on the site only once
 * its docs page exists, and in the tools only once it has exercises.
 */

/** One chapter: its folder slug (`NN-name`) under `docs/` and `exercises/`, and its title. */
export interface ChapterInfo {
  readonly slug: string;
  readonly title: string;
}

/** A part of the course: a few chapters that belong together. */
export interface PartInfo {
  readonly title: string;
  readonly chapters: readonly ChapterInfo[];
}

export const syllabus: readonly PartInfo[] = [
  {
    title: 'Foundations',
    chapters: [
      { slug: '00-setup', title: 'Getting started' },
      { slug: '01-event-loop', title: 'The event loop and async I/O' },
      { slug: '02-patterns', title: 'Patterns and layered architecture' },
    ],
  },
  {
    title: 'Architecture',
    chapters: [
      { slug: '03-services', title: 'Monolith, microservices, gateways, discovery' },
      { slug: '04-cqrs', title: 'CQRS and event sourcing' },
      { slug: '05-messaging', title: 'Queues, pub/sub and delivery guarantees' },
    ],
  },
  {
    title: 'Performance and scale',
    chapters: [
      { slug: '06-caching', title: 'Caching' },
      { slug: '07-resilience', title: 'Timeouts, retries, breakers, bulkheads' },
      { slug: '08-traffic', title: 'Load balancing and rate limiting' },
      { slug: '09-scaling', title: 'Scaling out: state, sessions, sharding, pools' },
    ],
  },
  {
    title: 'Real-time and observability',
    chapters: [
      { slug: '10-realtime', title: 'Real-time systems with WebSockets' },
      { slug: '11-observability', title: 'Metrics, logs, traces, bottlenecks' },
    ],
  },
  {
    title: 'Distributed data',
    chapters: [{ slug: '12-distributed', title: 'CAP, consistency, CRDTs, consensus' }],
  },
  {
    title: 'Capstones',
    chapters: [
      { slug: '13-url-shortener', title: 'Capstone: a URL shortener' },
      { slug: '14-orders', title: 'Capstone: orders with sagas' },
    ],
  },
];

/** Every chapter of the syllabus, in order. */
export const allChapters: readonly ChapterInfo[] = syllabus.flatMap((part) => part.chapters);
