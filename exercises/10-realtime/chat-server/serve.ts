/**
 * `npm run serve -- 10-realtime/chat-server`: starts the chat so you can talk to it with any
 * WebSocket client, e.g. `npx wscat -c ws://127.0.0.1:3000` or the browser console.
 */
import type { ServeContext, Served } from '../../../src/testing/runnable.js';
import { createChatServer } from './server.js';

export default async function serve(ctx: ServeContext): Promise<Served> {
  const chat = createChatServer({ heartbeatIntervalMs: 30_000 });
  await new Promise<void>((resolve, reject) => {
    chat.server.once('error', reject);
    chat.server.listen(ctx.port, ctx.host, () => resolve());
  });
  const address = chat.server.address();
  const port = typeof address === 'object' && address ? address.port : ctx.port;
  const url = `ws://${ctx.host}:${port}`;
  return {
    url,
    tryIt: [
      `In a browser console:  const ws = new WebSocket('${url}'); ws.onmessage = (e) => console.log(JSON.parse(e.data));`,
      `  ws.send(JSON.stringify({ type: 'join', room: 'general', name: 'ada' }))`,
      `  ws.send(JSON.stringify({ type: 'message', room: 'general', text: 'hello' }))`,
      `Or from a terminal:  npx wscat -c ${url}   then paste {"type":"join","room":"general","name":"bob"}`,
    ],
    close: () => chat.close(),
  };
}
