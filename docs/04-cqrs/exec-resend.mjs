// A projection batch is MULTI … EXEC. What if EXEC reaches Redis but its reply never comes back?
// A one-shot proxy passes everything through, and drops the connection the moment Redis answers the
// first EXEC: Redis has run the transaction; the client saw the connection close. Then we count how
// many times the batch (+100 to a balance, checkpoint → 1) was applied, for four sets of ioredis options.
// REDIS_URL=redis://127.0.0.1:6379 node docs/04-cqrs/exec-resend.mjs
import net from 'node:net';
import { Redis } from 'ioredis';
import ioredisPackage from 'ioredis/package.json' with { type: 'json' };

const target = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
let dropNextExecReply = true;
const proxy = net.createServer((client) => {
  const upstream = net.connect(Number(target.port || 6379), target.hostname);
  let execSent = false;
  client.on('data', (bytes) => {
    upstream.write(bytes);
    if (dropNextExecReply && /\bexec\b/i.test(bytes.toString('latin1'))) {
      execSent = true;
      dropNextExecReply = false;
    }
  });
  upstream.on('data', (bytes) => {
    if (!execSent) return void client.write(bytes);
    client.destroy(); // the transaction ran; its reply is lost with the connection
    upstream.destroy();
  });
  for (const socket of [client, upstream]) socket.on('error', () => {});
  client.on('close', () => upstream.destroy());
});
await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve));
const proxyPort = proxy.address().port;

const variants = [
  {},
  { autoResendUnfulfilledCommands: false },
  { enableOfflineQueue: false, maxRetriesPerRequest: 0 },
  { autoResendUnfulfilledCommands: false, commandTimeout: 2000 },
];
console.log(`ioredis ${ioredisPackage.version}, Node ${process.version}`);
for (const options of variants) {
  dropNextExecReply = true;
  const admin = new Redis(target.href);
  await admin.mset('checkpoint', '0', 'balance', '0');
  const runner = new Redis(proxyPort, '127.0.0.1', options);
  runner.on('error', () => {});
  if (runner.status !== 'ready') await new Promise((resolve) => runner.once('ready', resolve));
  await runner.watch('checkpoint');
  const batch = runner.multi().incrby('balance', 100).set('checkpoint', '1').exec();
  const outcome = await Promise.race([
    batch.then(
      (replies) => `resolved ${JSON.stringify(replies)}`,
      (error) => `rejected: ${error.message.split(' (')[0]}`,
    ),
    new Promise((resolve) => setTimeout(resolve, 5000, 'still pending after 5 s')),
  ]);
  await new Promise((resolve) => setTimeout(resolve, 300)); // let any resent commands land
  const applied = Number(await admin.get('balance')) / 100;
  console.log(`${JSON.stringify(options)}\n  exec(): ${outcome}; the batch was applied ${applied}×`);
  runner.disconnect();
  admin.disconnect();
}
proxy.close();
