/**
 * End-to-end test of the web app in a real Chromium (playwright-core driving the system's Chromium, WebGPU
 * through SwiftShader with --enable-unsafe-webgpu): builds and serves the app, drops two generated images
 * (one normal, one with a synthetic defect) with their masks and a corrupt file, and checks, on wasm and on
 * WebGPU, that the scores equal `hgm detect`'s for the same images and model, that the overlay is not the bare
 * image, that no request leaves the local server, and that the corrupt file is named while the others get
 * results. Screenshots are saved under apps/web/test-results/.
 *
 * Chromium is found at $HGM_CHROMIUM, else /usr/bin/chromium (Debian's package, installed by .ci/run); when it
 * cannot start, the test fails with the reason.
 */
import { spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { extname, join, normalize, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { chromium, type Browser, type Page } from 'playwright-core';
import { decodePng, encodePng, generateSample } from '@hgm/data';

const appRoot = fileURLToPath(new URL('..', import.meta.url));
const repoRoot = resolve(appRoot, '..', '..');
const artefacts = join(appRoot, 'test-results');
const checkpoint = join(appRoot, 'assets', 'demo-model.safetensors');
const SIZE = 64;

const work = mkdtempSync(join(tmpdir(), 'hgm-web-e2e-'));
const dist = join(work, 'dist');
const images = join(work, 'images');
let server: Server | undefined;
let base = '';
let browser: Browser | undefined;
let nodeScores = new Map<string, number>();

function chromiumPath(): string {
  const candidates = [process.env['HGM_CHROMIUM'], '/usr/bin/chromium', '/usr/bin/chromium-browser', '/usr/bin/google-chrome'].filter((p): p is string => !!p);
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(
      `Chromium not found (looked at ${candidates.join(', ')}): install Debian's chromium package (.ci/run does) or set HGM_CHROMIUM to a Chromium binary`,
    );
  return found;
}

const TYPES: Record<string, string> = { '.html': 'text/html', '.js': 'text/javascript', '.css': 'text/css', '.wasm': 'application/wasm', '.png': 'image/png' };

function serve(root: string): Promise<Server> {
  const s = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    const path = normalize(join(root, decodeURIComponent(url.pathname === '/' ? '/index.html' : url.pathname)));
    if (!path.startsWith(root) || !existsSync(path)) {
      res.writeHead(404).end('not found');
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[extname(path)] ?? 'application/octet-stream' }).end(readFileSync(path));
  });
  return new Promise((ok) => s.listen(0, '127.0.0.1', () => ok(s)));
}

function writeImages(): void {
  mkdirSync(images, { recursive: true });
  const png = (rgb: Uint8Array) => encodePng({ width: SIZE, height: SIZE, channels: 3, bitDepth: 8, data: rgb });
  const gray = (mask: Uint8Array) => encodePng({ width: SIZE, height: SIZE, channels: 1, bitDepth: 8, data: mask.map((v) => (v ? 255 : 0)) });
  const normal = generateSample('wood', 'good', 'web-e2e-normal', { size: SIZE });
  const defect = generateSample('wood', 'stain', 'web-e2e-defect', { size: SIZE });
  writeFileSync(join(images, 'normal.png'), png(normal.image));
  writeFileSync(join(images, 'normal_mask.png'), gray(normal.mask));
  writeFileSync(join(images, 'defect.png'), png(defect.image));
  writeFileSync(join(images, 'defect_mask.png'), gray(defect.mask));
  // A PNG signature followed by garbage: recognised as PNG, then refused by the decoder.
  writeFileSync(join(images, 'corrupt.png'), Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('not really a png')]));
}

/** Scores from `hgm detect` in Node (cpu backend) for the same images and model. */
function detectInNode(): Map<string, number> {
  const r = spawnSync(
    process.execPath,
    [
      '--conditions=@hgm/source',
      '--import',
      'tsx',
      'apps/cli/src/main.ts',
      'detect',
      join(images, 'normal.png'),
      join(images, 'defect.png'),
      '--checkpoint',
      checkpoint,
      '--out',
      join(work, 'detect'),
      '--backend',
      'cpu',
      '--json',
    ],
    { cwd: repoRoot, encoding: 'utf8', env: { ...process.env, NO_COLOR: '1' } },
  );
  if (r.status !== 0) throw new Error(`hgm detect failed (exit ${r.status}): ${r.stderr}`);
  const out = JSON.parse(r.stdout) as { detections: { image: string; score: number }[] };
  return new Map(out.detections.map((d) => [d.image.split('/').pop()!, d.score]));
}

beforeAll(async () => {
  const built = spawnSync(process.execPath, [join(repoRoot, 'node_modules', 'vite', 'bin', 'vite.js'), 'build', '--outDir', dist, '--logLevel', 'warn'], {
    cwd: appRoot,
    encoding: 'utf8',
  });
  if (built.status !== 0) throw new Error(`vite build failed (exit ${built.status}): ${built.stderr}`);
  writeImages();
  nodeScores = detectInNode();
  server = await serve(dist);
  const address = server.address();
  base = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`;
  const executablePath = chromiumPath();
  try {
    browser = await chromium.launch({
      executablePath,
      args: ['--no-sandbox', '--enable-unsafe-webgpu', '--enable-features=Vulkan', '--use-angle=swiftshader', '--use-webgpu-adapter=swiftshader'],
    });
  } catch (e) {
    throw new Error(`Chromium (${executablePath}) could not start: ${(e as Error).message}`);
  }
  mkdirSync(artefacts, { recursive: true });
}, 240_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((ok) => (server ? server.close(() => ok()) : ok()));
  rmSync(work, { recursive: true, force: true });
});

async function waitReady(page: Page): Promise<void> {
  await page.waitForFunction(() => ['ready', 'error'].includes(document.body.dataset['state'] ?? ''), undefined, { timeout: 120_000 });
  const state = await page.evaluate(() => document.body.dataset['state']);
  if (state === 'error')
    throw new Error(`the page could not start its model: ${await page.textContent('#backend-status')} ${await page.textContent('#errors')}`);
}

async function setSlider(page: Page, id: string, value: number): Promise<void> {
  await page.evaluate(
    ([sel, v]) => {
      const input = document.getElementById(sel as string) as HTMLInputElement;
      input.value = String(v);
      input.dispatchEvent(new Event('input'));
    },
    [id, value] as const,
  );
}

describe.each(['wasm', 'webgpu'] as const)('web app in Chromium on %s', (backend) => {
  it('computes the scores of hgm detect, draws a visible overlay, names the corrupt file and sends nothing away', async () => {
    const page = await browser!.newPage({ viewport: { width: 1280, height: 900 } });
    const requests: string[] = [];
    page.on('request', (r) => requests.push(r.url()));
    const consoleErrors: string[] = [];
    page.on('pageerror', (e) => consoleErrors.push(e.message));
    try {
      await page.goto(`${base}/?backend=${backend}`);
      await waitReady(page);
      expect(await page.getAttribute('#backend-status', 'data-backend')).toBe(backend);

      await page.setInputFiles(
        '#file-input',
        ['normal.png', 'normal_mask.png', 'defect.png', 'defect_mask.png', 'corrupt.png'].map((f) => join(images, f)),
      );
      await page.waitForFunction(
        () =>
          document.querySelectorAll('.thumb').length === 3 &&
          document.querySelectorAll('.thumb[data-status=queued]').length === 0 &&
          document.body.dataset['state'] === 'ready',
        undefined,
        { timeout: 180_000 },
      );

      for (const name of ['normal.png', 'defect.png']) {
        const status = await page.getAttribute(`.thumb[data-path="${name}"]`, 'data-status');
        expect(status, `${name}: ${await page.textContent('#errors')}`).toBe('done');
        const score = Number(await page.getAttribute(`.thumb[data-path="${name}"]`, 'data-score'));
        expect(Math.abs(score - nodeScores.get(name)!), `${name} on ${backend}: page ${score}, hgm detect ${nodeScores.get(name)}`).toBeLessThan(1e-3);
      }
      expect(await page.getAttribute('.thumb[data-path="corrupt.png"]', 'data-status')).toBe('error');
      expect(await page.textContent('#errors')).toContain('corrupt.png');
      expect(await page.isVisible('#metrics-pane')).toBe(true);
      expect(await page.textContent('tr[data-metric=image_auroc]')).toMatch(/image_auroc\s*\d\.\d{4}/);

      await page.click('.thumb[data-path="defect.png"]');
      await setSlider(page, 'opacity', 0);
      const bare = decodePng(await page.locator('#overlay-canvas').screenshot(), 'bare');
      await setSlider(page, 'opacity', 0.5);
      await setSlider(page, 'threshold', 0.6);
      const overlay = decodePng(await page.locator('#overlay-canvas').screenshot(), 'overlay');
      expect(overlay.data.length).toBe(bare.data.length);
      let differing = 0;
      const pixels = overlay.width * overlay.height;
      for (let i = 0; i < pixels; i++) {
        let d = 0;
        for (let c = 0; c < overlay.channels; c++) d = Math.max(d, Math.abs(overlay.data[i * overlay.channels + c]! - bare.data[i * bare.channels + c]!));
        if (d > 16) differing++;
      }
      expect(differing / pixels, 'share of overlay pixels that differ from the bare image').toBeGreaterThan(0.2);
      writeFileSync(join(artefacts, `web-app-${backend}.png`), await page.screenshot({ fullPage: true }));

      const foreign = requests.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:') && !u.startsWith('blob:'));
      expect(foreign, 'requests to other hosts').toEqual([]);
      expect(consoleErrors).toEqual([]);
    } finally {
      await page.close();
    }
  });
});
