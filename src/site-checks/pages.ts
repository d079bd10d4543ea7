/**
 * Which pages the site has (from the build's sitemap, so chapters added in parallel are picked up)
 * and what each page's source promises: how many mermaid diagrams and ts live blocks it has.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';

export interface PageInfo {
  /** `/08-traffic` */
  route: string;
  /** `docs/08-traffic.mdx`, when the page comes from a doc. */
  source?: string;
  /** Mermaid diagrams the source asks for (```mermaid fences plus diagram components). */
  mermaid: number;
  /** ```ts live / ```typescript live fences. */
  liveTs: number;
  /** Simulators the source uses, by name. */
  simulators: string[];
}

/** Routes listed in build/sitemap.xml, as paths. */
export function routesFromSitemap(buildDir: string): string[] {
  const file = path.join(buildDir, 'sitemap.xml');
  if (!existsSync(file)) throw new Error(`${file} is missing: build the site first`);
  const xml = readFileSync(file, 'utf8');
  const routes = [...xml.matchAll(/<loc>([^<]+)<\/loc>/g)].map((m) => new URL(m[1]!).pathname);
  return [...new Set(routes)].sort();
}

interface Fence {
  info: string;
}

/** The fenced code blocks at the top level of a markdown text (fences nested in longer fences are content). */
export function topLevelFences(text: string): Fence[] {
  const fences: Fence[] = [];
  let open: { char: string; length: number } | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s{0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (!m) continue;
    const marker = m[1]!;
    if (open) {
      if (marker[0] === open.char && marker.length >= open.length && m[2]!.trim() === '') open = undefined;
      continue;
    }
    open = { char: marker[0]!, length: marker.length };
    fences.push({ info: m[2]!.trim() });
  }
  return fences;
}

/** Text outside fenced code blocks (so examples of components inside ``` are not counted). */
function outsideFences(text: string): string {
  const out: string[] = [];
  let open: { char: string; length: number } | undefined;
  for (const line of text.split('\n')) {
    const m = /^\s{0,3}(`{3,}|~{3,})(.*)$/.exec(line);
    if (m) {
      const marker = m[1]!;
      if (!open) open = { char: marker[0]!, length: marker.length };
      else if (marker[0] === open.char && marker.length >= open.length && m[2]!.trim() === '')
        open = undefined;
      continue;
    }
    if (!open) out.push(line);
  }
  return out.join('\n');
}

/** Components that draw one mermaid diagram each. */
const DIAGRAM_COMPONENTS = ['Mermaid', 'CourseMap', 'DiagramViewer'];
const SIMULATORS: Record<string, string> = {
  LoadBalancerSimulator: 'load-balancer',
  EventLoopSimulator: 'event-loop',
  CircuitBreakerSimulator: 'circuit-breaker',
  HitRatioPlayground: 'hit-ratio',
  QueueSimulator: 'queue',
  HashRingSimulator: 'hash-ring',
  PartitionSimulator: 'partition',
  RaftSimulator: 'raft',
  SagaSimulator: 'saga',
  DiagramViewer: 'diagram',
};

export function analyseSource(text: string): Pick<PageInfo, 'mermaid' | 'liveTs' | 'simulators'> {
  const fences = topLevelFences(text);
  // Prose without inline code spans, so `<CourseMap />` written about in a sentence does not count.
  const prose = outsideFences(text).replace(/(`+)[\s\S]*?\1/g, '');
  const count = (name: string) => (prose.match(new RegExp(`<${name}[\\s/>]`, 'g')) ?? []).length;
  const mermaid =
    fences.filter((f) => /^mermaid\b/.test(f.info)).length +
    DIAGRAM_COMPONENTS.reduce((sum, name) => sum + count(name), 0);
  const liveTs = fences.filter(
    (f) => /^(ts|typescript)\b/.test(f.info) && /(^|\s)live(\s|$)/.test(f.info),
  ).length;
  const simulators = Object.entries(SIMULATORS).flatMap(([component, name]) =>
    count(component) > 0 ? [name] : [],
  );
  return { mermaid, liveTs, simulators };
}

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((entry) => {
    const full = path.join(dir, entry);
    return statSync(full).isDirectory() ? walk(full) : /\.mdx?$/.test(entry) ? [full] : [];
  });
}

/** route -> source file for every doc (routeBasePath '/', numberPrefixParser off, front matter slug honoured). */
export function docRoutes(docsDir: string): Map<string, string> {
  const map = new Map<string, string>();
  for (const file of walk(docsDir)) {
    const rel = path.relative(docsDir, file).replace(/\\/g, '/');
    const text = readFileSync(file, 'utf8');
    const front = /^---\n([\s\S]*?)\n---/.exec(text)?.[1] ?? '';
    const slug = /^slug:\s*['"]?([^'"\n]+)['"]?\s*$/m.exec(front)?.[1];
    const dir = path.posix.dirname(rel) === '.' ? '' : path.posix.dirname(rel);
    let route: string;
    if (slug) route = slug.startsWith('/') ? slug : `/${dir ? `${dir}/` : ''}${slug}`;
    else {
      const name = path.posix.basename(rel).replace(/\.mdx?$/, '');
      route = `/${name === 'index' || name === dir.split('/').pop() ? dir : `${dir ? `${dir}/` : ''}${name}`}`;
    }
    map.set(route.replace(/(.)\/$/, '$1'), file);
  }
  return map;
}

export function discoverPages(buildDir: string, docsDir: string, root: string): PageInfo[] {
  const sources = docRoutes(docsDir);
  return routesFromSitemap(buildDir).map((route) => {
    const file = sources.get(route);
    if (!file) return { route, mermaid: 0, liveTs: 0, simulators: [] };
    return { route, source: path.relative(root, file), ...analyseSource(readFileSync(file, 'utf8')) };
  });
}
