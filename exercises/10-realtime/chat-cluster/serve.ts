/**
 * `npm run serve -- 10-realtime/chat-cluster [-- <instances>]`: starts two (or N) instances of the
 * chat on consecutive ports, sharing the Redis that the runner found. Connect clients to different
 * ports and watch messages cross over.
 */
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { type ChatNode, createChatNode } from './cluster.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  if (!ctx.redisUrl) throw new Error('chat-cluster needs Redis: see npm run serve --help');
  const count = Number(ctx.args[0] ?? 2);
  const nodes: ChatNode[] = [];
  const urls: string[] = [];
  for (let i = 0; i < count; i++) {
    const node = await createChatNode({ redisUrl: ctx.redisUrl, keyPrefix: 'serve-chat:' });
    await new Promise<void>((resolve, reject) => {
      node.server.once('error', reject);
      node.server.listen(ctx.port === 0 ? 0 : ctx.port + i, ctx.host, () => resolve());
    });
    const address = node.server.address();
    urls.push(`ws://${ctx.host}:${typeof address === 'object' && address ? address.port : 0}`);
    nodes.push(node);
  }
  return {
    url: urls[0] ?? '',
    tryIt: [
      `Instances: ${urls.join('  ')}`,
      `Terminal 1:  npx wscat -c ${urls[0]}   then {"type":"join","room":"general","name":"ada"}`,
      `Terminal 2:  npx wscat -c ${urls[1] ?? urls[0]}   then {"type":"join","room":"general","name":"bob"}`,
      `  and {"type":"message","room":"general","text":"hello across instances"}`,
    ],
    close: async () => {
      await Promise.all(nodes.map((n) => n.close()));
    },
  };
}
