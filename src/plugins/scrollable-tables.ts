/**
 * A rehype plugin for every Markdown table on the site: wraps it in a region that scrolls sideways on
 * a narrow screen and that a keyboard can reach (tabindex 0) and a screen reader can name (a label
 * from the table's header cells). A table wider than a phone otherwise scrolls inside a box no key can
 * reach: axe's "scrollable-region-focusable" (serious), on every chapter page at 375 px.
 *
 *   <div class="table-scroll" role="region" tabindex="0" aria-label="Table: Option, Set-up, …">
 *     <table>…</table>
 *   </div>
 *
 * src/css/custom.css gives `.table-scroll` the overflow; the table inside keeps its table semantics.
 */

interface HastNode {
  type: string;
  tagName?: string;
  value?: string;
  properties?: Record<string, unknown>;
  children?: HastNode[];
}

const MAX_LABEL = 100;

function text(node: HastNode): string {
  if (node.type === 'text') return node.value ?? '';
  return (node.children ?? []).map(text).join('');
}

function find(node: HastNode, tagName: string): HastNode | undefined {
  for (const child of node.children ?? []) {
    if (child.tagName === tagName) return child;
    const found = find(child, tagName);
    if (found) return found;
  }
  return undefined;
}

/** "Table: <caption>", or "Table: <the header cells>", short enough to read aloud. */
export function tableLabel(table: HastNode): string {
  const caption = find(table, 'caption');
  const head = find(table, 'thead') ?? find(table, 'tr');
  const headers = (head ? (find(head, 'tr') ?? head) : undefined)?.children
    ?.filter((c) => c.tagName === 'th' || c.tagName === 'td')
    .map((c) => text(c).trim())
    .filter(Boolean);
  const body = caption ? text(caption).trim() : (headers ?? []).join(', ');
  const label = `Table: ${body || 'scroll sideways to see every column'}`;
  return label.length > MAX_LABEL ? `${label.slice(0, MAX_LABEL - 1)}…` : label;
}

function wrapTables(node: HastNode): void {
  const children = node.children;
  if (!children) return;
  for (let i = 0; i < children.length; i++) {
    const child = children[i] as HastNode;
    if (child.type === 'element' && child.tagName === 'table') {
      children[i] = {
        type: 'element',
        tagName: 'div',
        properties: {
          className: ['table-scroll'],
          role: 'region',
          tabIndex: 0,
          ariaLabel: tableLabel(child),
        },
        children: [child],
      };
    } else {
      wrapTables(child);
    }
  }
}

/** The plugin (no options): `rehypePlugins: [scrollableTables]`. */
export default function scrollableTables() {
  return (tree: HastNode) => wrapTables(tree);
}
