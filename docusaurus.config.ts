import type * as Preset from '@docusaurus/preset-classic';
import type { Config, PluginModule } from '@docusaurus/types';
import { themes as prismThemes } from 'prism-react-renderer';
import { accessiblePrismTheme } from './src/plugins/accessible-prism';
import exercisesPlugin from './src/plugins/exercises';
import keepMermaidLazy from './src/plugins/keep-mermaid-lazy';
import scrollableTables from './src/plugins/scrollable-tables';
import tsExtensionAlias from './src/plugins/ts-extension-alias';

/**
 * Where the course's repository lives, when the build is told (LAB_REPO_URL, e.g. a class's fork):
 * then every page gets "Edit this page" and the navbar a "Repository" link. The course has no public
 * home of its own, so without it there are neither: a link to a made-up repository is a broken link.
 */
const repoUrl = process.env.LAB_REPO_URL?.replace(/\/+$/, '') || undefined;

const config: Config = {
  title: 'System Design Lab',
  tagline: 'System design for Node.js developers, built and tested against real infrastructure',
  url: 'https://system-design-lab.example',
  baseUrl: '/',
  favicon: 'img/favicon.svg',
  trailingSlash: false,
  onBrokenLinks: 'throw',
  onBrokenAnchors: 'throw',
  markdown: { mermaid: true, hooks: { onBrokenMarkdownLinks: 'throw' } },
  future: {
    // All v4 flags except CSS cascade layers: with rspack's bundled browser data the layers are
    // polyfilled by raising Infima's selectors to :root:not(#\#):not(#\#), which silently beats
    // every plain rule in src/css/custom.css (our colours would never apply).
    v4: {
      removeLegacyPostBuildHeadAttribute: true,
      useCssCascadeLayers: false,
      siteStorageNamespacing: true,
      fasterByDefault: true,
      mdx1CompatDisabledByDefault: true,
    },
    faster: true,
  },
  themes: [
    '@docusaurus/theme-mermaid',
    '@docusaurus/theme-live-codeblock',
    [
      '@easyops-cn/docusaurus-search-local',
      {
        // Offline search: the index is built with the production build (not in `npm start`).
        hashed: true,
        indexDocs: true,
        indexBlog: false,
        indexPages: true,
        docsRouteBasePath: '/',
        ignoreFiles: [/^maintainers/, /^instructors/],
        highlightSearchTermsOnTargetPage: false,
        explicitSearchResultPath: true,
      },
    ],
  ],
  plugins: [exercisesPlugin as PluginModule, keepMermaidLazy, tsExtensionAlias],
  presets: [
    [
      'classic',
      {
        docs: {
          routeBasePath: '/',
          sidebarPath: './sidebars.ts',
          // Keep "08-traffic" in doc ids and URLs (/08-traffic): the same name as the exercise folder.
          numberPrefixParser: false,
          ...(repoUrl ? { editUrl: `${repoUrl}/edit/main/` } : {}),
          // :::production and :::mistake callouts ("In production", "Common mistake").
          admonitions: { keywords: ['production', 'mistake'], extendDefaults: true },
          // Every table scrolls sideways inside a labelled region a keyboard can reach (phones, axe).
          rehypePlugins: [scrollableTables],
        },
        blog: false,
        pages: false,
        theme: { customCss: './src/css/custom.css' },
      } satisfies Preset.Options,
    ],
  ],
  themeConfig: {
    colorMode: { defaultMode: 'light', respectPrefersColorScheme: true },
    navbar: {
      title: 'System Design Lab',
      items: [
        { type: 'docSidebar', sidebarId: 'course', label: 'Course', position: 'left' },
        // The guide's first page, not the sidebar's first entry (which sorts Gradescope first).
        { type: 'doc', docId: 'instructors/index', label: 'Instructors', position: 'left' },
        ...(repoUrl ? [{ href: repoUrl, label: 'Repository', position: 'right' as const }] : []),
      ],
    },
    footer: {
      style: 'dark',
      links: [
        {
          title: 'Learn',
          items: [
            { label: 'Course map', to: '/' },
            { label: 'Getting started', to: '/00-setup' },
          ],
        },
        {
          title: 'Teach and maintain',
          items: [
            { label: "Instructor's guide: grading", to: '/instructors' },
            { label: "Maintainers' guide", to: '/maintainers' },
          ],
        },
      ],
      copyright: 'System Design Lab · MIT licensed',
    },
    mermaid: { theme: { light: 'default', dark: 'dark' } },
    liveCodeBlock: { playgroundPosition: 'bottom' },
    prism: {
      // WCAG AA contrast for every token (the stock themes fail axe-core's color-contrast rule).
      theme: accessiblePrismTheme(prismThemes.github),
      darkTheme: accessiblePrismTheme(prismThemes.dracula),
      additionalLanguages: ['bash', 'json'],
    },
  } satisfies Preset.ThemeConfig,
};

export default config;
