/** A tiny static server for a Docusaurus build (trailingSlash: false), on 127.0.0.1 only. */
import { createReadStream, existsSync, readFileSync, statSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { gzipSync } from 'node:zlib';

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.xml': 'application/xml',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

function resolveFile(root: string, urlPath: string): string | undefined {
  const clean = path.normalize(decodeURIComponent(urlPath)).replace(/^(\.\.[/\\])+/, '');
  const base = path.join(root, clean);
  if (!base.startsWith(root)) return undefined;
  const candidates = [base, `${base}.html`, path.join(base, 'index.html')];
  return candidates.find((file) => existsSync(file) && statSync(file).isFile());
}

const gzipSizes = new Map<string, number>();
function gzipSize(file: string): number {
  let size = gzipSizes.get(file);
  if (size === undefined) {
    size = gzipSync(readFileSync(file)).length;
    gzipSizes.set(file, size);
  }
  return size;
}

export interface StaticServer {
  origin: string;
  close(): Promise<void>;
}

export async function serveBuild(buildDir: string): Promise<StaticServer> {
  const root = path.resolve(buildDir);
  const server: Server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const file = resolveFile(root, url.pathname);
    const status = file ? 200 : 404;

    const served = file ?? path.join(root, '404.html');
    res.writeHead(status, {
      'content-type': types[path.extname(served)] ?? 'application/octet-stream',
      'content-length': statSync(served).size,
      // What a compressing host (nginx, Netlify, GitHub Pages) would send, for the JS budget.
      ...(served.endsWith('.js') ? { 'x-gzip-length': gzipSize(served) } : {}),
    });
    createReadStream(served).pipe(res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    origin: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
