/**
 * Lets the site import the simulator kit (`src/testing/sim/`) as it is written for Node: TypeScript
 * sources that import each other with `.js` extensions (`import { Network } from './network.js'`), as
 * NodeNext module resolution requires. Node and Vitest map `./network.js` to `network.ts`; the
 * bundler does not unless told to, and the build stops on "Can't resolve './network.js'".
 */
import type { Plugin } from '@docusaurus/types';

export default function tsExtensionAlias(): Plugin {
  return {
    name: 'ts-extension-alias',
    configureWebpack() {
      return { resolve: { extensionAlias: { '.js': ['.ts', '.tsx', '.js'] } } };
    },
  };
}
