import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startDemo } from './serve.js';

/** Sends raw bytes and resolves with the status line of the answer ('' if the connection closes silently). */
function raw(url: string, request: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname, () => socket.end(request));
    let data = '';
    socket.setTimeout(10_000, () => socket.destroy(new Error('no answer within 10 s')));
    socket.on('data', (chunk) => {
      data += chunk.toString('latin1');
    });
    socket.on('end', () => resolve(data.split('\r\n')[0] ?? ''));
    socket.on('error', reject);
  });
}

describe('metrics-registry: the demo app of npm run serve', () => {
  it('counts requests by route and status, lumps unknown paths into route="other", and survives odd request targets', async () => {
    const demo = await startDemo({ port: 0 });
    try {
      await fetch(`${demo.url}/`).then((r) => r.text());
      await fetch(`${demo.url}/users/42`).then((r) => r.text());
      await fetch(`${demo.url}/slow?ms=not-a-number`).then((r) => r.text());
      expect(await raw(demo.url, 'GET // HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(
        /^HTTP\/1.1 404/,
      );
      expect(await raw(demo.url, 'GET /%ZZ?%% HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n')).toMatch(
        /^HTTP\/1.1 404/,
      );
      const metrics = await fetch(`${demo.url}/metrics`);
      expect(metrics.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
      const text = await metrics.text();
      expect(text, 'GET / answered 200').toContain('http_requests_total{route="/",status="200"} 1\n');
      expect(text, 'three unknown paths, one series: route="other"').toContain(
        'http_requests_total{route="other",status="404"} 3\n',
      );
      expect(text).toContain('http_requests_total{route="/slow",status="200"} 1\n');
      expect(text).toContain('http_request_duration_seconds_count{route="other"} 3\n');
      expect(text).not.toContain('users/42');
    } finally {
      await demo.close();
    }
  });
});
