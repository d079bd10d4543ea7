/**
 * Keeps mermaid (and the libraries only it uses) out of Docusaurus's "common" chunk.
 *
 * Docusaurus puts every module used by at least half of the site's chunks into one "common" chunk
 * that every page loads. Mermaid is split into many lazy diagram chunks, so its parser (langium,
 * chevrotain), d3 and friends pass that threshold and ~640 KB of diagram code ended up on every page,
 * diagrams or not (measured by src/site-checks). Excluding them from "common" lets the bundler keep
 * them in mermaid's own lazy chunks, which load only on pages that draw a diagram.
 */
import type { Plugin } from '@docusaurus/types';

const MERMAID_ONLY =
  /[\\/]node_modules[\\/](mermaid|@mermaid-js|langium|chevrotain|chevrotain-allstar|@chevrotain|vscode-jsonrpc|vscode-languageserver[^\\/]*|vscode-uri|d3|d3-[^\\/]+|dagre-d3-es|cytoscape[^\\/]*|khroma|katex|roughjs|stylis|marked|dayjs|lodash-es|dompurify|@braintree|@iconify|@upsetjs|ts-dedent|uuid)[\\/]/;

interface ModuleLike {
  resource?: string;
  nameForCondition?: () => string | null | undefined;
}

export default function keepMermaidLazy(): Plugin {
  return {
    name: 'keep-mermaid-lazy',
    configureWebpack(_config, isServer) {
      if (isServer) return {};
      return {
        optimization: {
          splitChunks: {
            cacheGroups: {
              common: {
                test: (module: ModuleLike) => {
                  const resource = module.nameForCondition?.() ?? module.resource ?? '';
                  return !MERMAID_ONLY.test(resource);
                },
              },
            },
          },
        },
      };
    },
  };
}
