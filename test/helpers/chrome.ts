import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { extname, join, normalize, resolve } from 'node:path';
import puppeteer, { type Browser, type Page } from 'puppeteer-core';

/**
 * Headless Chromium (Debian's, driven by puppeteer-core) on a page served from 127.0.0.1 that
 * imports the built bundle, dist/resgpu.js, exactly as a user's page would. WebGPU runs on
 * SwiftShader there; a page without an adapter fails the suite.
 */
export const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

export const CHROMIUM_ARGS = [
  '--headless=new',
  '--no-sandbox',
  '--enable-unsafe-webgpu',
  // SwiftShader is a Vulkan device; let Chrome use it when no GPU is present.
  '--enable-features=Vulkan',
  '--use-angle=swiftshader',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
  '--no-first-run',
];

const ROOT = resolve(import.meta.dirname, '../..');
const TYPES: Record<string, string> = {
  '.js': 'text/javascript',
  '.mjs': 'text/javascript',
  '.map': 'application/json',
  '.html': 'text/html',
  '.json': 'application/json',
};

const PAGE = `<!doctype html><meta charset="utf-8"><title>resgpu test</title>
<script type="module">
  import * as resgpu from '/dist/resgpu.js';
  window.resgpu = resgpu;
  window.ready = true;
</script>`;

/** What the test page (PAGE above) puts on window, and what tests keep there between evaluations. */
declare global {
  interface Window {
    resgpu: typeof import('../../src/index.js');
    sharedDevice?: GPUDevice;
  }
}

export interface ChromePage {
  page: Page;
  /**
   * Another page of the same origin, with `prepare` run before any of the page's scripts (for
   * instance to remove navigator.gpu), once it has imported the bundle.
   */
  newPage(prepare?: () => void): Promise<Page>;
  /** Serves bytes at /files/<name> and returns the absolute URL. */
  serve(name: string, bytes: Uint8Array): string;
  close(): Promise<void>;
}

export async function openChromePage(): Promise<ChromePage> {
  const files = new Map<string, Uint8Array>();
  const server: Server = createServer(async (req, res) => {
    const path = decodeURIComponent(new URL(req.url ?? '/', 'http://x').pathname);
    try {
      let body: Uint8Array | string;
      let type = 'application/octet-stream';
      if (path === '/') {
        body = PAGE;
        type = 'text/html';
      } else if (path.startsWith('/files/') && files.has(path.slice(7))) {
        body = files.get(path.slice(7))!;
      } else if (path.startsWith('/dist/')) {
        const file = normalize(join(ROOT, path));
        if (!file.startsWith(join(ROOT, 'dist'))) throw new Error('outside dist');
        body = await readFile(file);
        type = TYPES[extname(file)] ?? type;
      } else {
        res.writeHead(404).end();
        return;
      }
      // Cross-origin isolated, as a page must be for WebAssembly threads (SharedArrayBuffer).
      res.writeHead(200, {
        'Content-Type': type,
        'Content-Length': Buffer.byteLength(body),
        'Cross-Origin-Opener-Policy': 'same-origin',
        'Cross-Origin-Embedder-Policy': 'require-corp',
      }).end(body);
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  const { port } = server.address() as { port: number };
  const origin = `http://127.0.0.1:${port}`;

  let browser: Browser | undefined;
  try {
    browser = await puppeteer.launch({ executablePath: CHROMIUM, args: CHROMIUM_ARGS, headless: true });
    const open = async (prepare?: () => void) => {
      const p = await browser!.newPage();
      const errors: string[] = [];
      p.on('pageerror', (e) => errors.push(String(e)));
      if (prepare) await p.evaluateOnNewDocument(prepare);
      await p.goto(`${origin}/`);
      await p.waitForFunction('window.ready === true', { timeout: 30_000 }).catch(() => {
        throw new Error(`The test page did not load dist/resgpu.js: ${errors.join('; ') || 'timeout'}`);
      });
      return p;
    };
    const page = await open();
    const hasAdapter = await page.evaluate(async () => !!(await navigator.gpu?.requestAdapter()));
    if (!hasAdapter) throw new Error('Headless Chromium has no WebGPU adapter (see ../shared/WEBGPU-ON-CPU.md).');
    return {
      page,
      newPage: open,
      serve(name, bytes) {
        files.set(name, bytes);
        return `${origin}/files/${name}`;
      },
      async close() {
        await browser?.close();
        await new Promise((ok) => server.close(ok));
      },
    };
  } catch (e) {
    await browser?.close();
    server.close();
    throw e;
  }
}
