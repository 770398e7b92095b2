/** The page: files in, the worker's results out, the gallery, the result view, metrics and exports. */
import { colorOf, heatmapPng, heatmapRgb, overlayPng } from '@hgm/engine';
import { formatImageSize, imageHW, type ImageSize } from '@hgm/tensor';
import {
  isAnomalous,
  outputStems,
  pageMetrics,
  pairingKey,
  scoresCsv,
  sortEntries,
  splitDropped,
  thresholdContour,
  type DroppedFile,
  type ImageEntry,
  type SortOrder,
} from './state';
import { downloadWithCache } from './hub';
import type { BackendChoice, FromWorker, ModelInfo, ToWorker } from './messages';

const $ = <T extends HTMLElement>(id: string): T => {
  const el = document.getElementById(id);
  if (!el) throw new Error(`page: element #${id} is missing`);
  return el as T;
};

const entries: ImageEntry[] = [];
let selected: number | undefined;
let nextId = 0;
let worker: Worker | undefined;
let workerReady: Promise<void> = Promise.resolve();
let cancelRequested = false;
let busy = false;
const pending = new Map<number, (m: FromWorker) => void>();
let onModel: ((m: FromWorker) => void) | undefined;
const frozenFiles: { clip?: { name: string; bytes: Uint8Array }; backbone?: { name: string; bytes: Uint8Array } } = {};

function setState(state: 'loading' | 'ready' | 'busy' | 'error'): void {
  document.body.dataset['state'] = state;
}

function showError(message: string): void {
  const li = document.createElement('li');
  li.textContent = message;
  $('errors').append(li);
}

function describeModel(m: ModelInfo): string {
  const frozen =
    m.frozen.kind === 'random'
      ? `random frozen weights (seed ${m.frozen.seed})`
      : `frozen weights ${[m.frozen.clip.name, m.frozen.backbone?.name].filter(Boolean).join(' + ')}`;
  const demo = m.source.startsWith('demo-model')
    ? ' - the tiny demo model: random frozen backbone, trained by `hgm demo` on synthetic textures; it shows how the page works, it is not a real detector'
    : '';
  return `model: ${m.name}, ${formatImageSize(m.imageSize)} px, ${frozen}, from ${m.source}${demo}`;
}

/** (Re)starts the worker on a backend; resolves when the demo model is loaded. */
function startWorker(backend: BackendChoice): Promise<void> {
  worker?.terminate();
  for (const [id, resolve] of pending)
    resolve({
      type: 'image-error',
      id,
      message: `${entries.find((e) => e.id === id)?.path ?? 'image'}: cancelled before it was processed (the model restarted)`,
    });
  pending.clear();
  setState('loading');
  $('backend-status').textContent = `starting ${backend}…`;
  const w = new Worker(new URL('./worker.ts', import.meta.url), { type: 'module' });
  worker = w;
  workerReady = new Promise((resolve, reject) => {
    w.onmessage = (event: MessageEvent<FromWorker>) => {
      const m = event.data;
      if (m.type === 'ready') {
        const status = $('backend-status');
        status.textContent = `backend: ${m.backend} (${m.adapter})${m.passedOver.length ? `; passed over: ${m.passedOver.join('; ')}` : ''}`;
        status.dataset['backend'] = m.backend;
        $('model-status').textContent = describeModel(m.model);
        setState('ready');
        resolve();
      } else if (m.type === 'model') {
        $('model-status').textContent = describeModel(m.model);
        onModel?.(m);
      } else if (m.type === 'result' || m.type === 'image-error') {
        pending.get(m.id)?.(m);
        pending.delete(m.id);
      } else if (m.type === 'error') {
        if (onModel) onModel(m);
        else {
          showError(m.message);
          if (document.body.dataset['state'] === 'loading') {
            setState('error');
            $('backend-status').textContent = `the model could not start: ${m.message}`;
            reject(new Error(m.message));
          }
        }
      }
    };
    w.onerror = (e) => {
      showError(`the model worker failed: ${e.message}`);
      setState('error');
      reject(new Error(e.message));
    };
  });
  send({ type: 'init', backend });
  return workerReady;
}

function send(message: ToWorker, transfer: Transferable[] = []): void {
  worker!.postMessage(message, transfer);
}

function progress(done: number, total: number, text: string): void {
  const p = $<HTMLProgressElement>('progress');
  p.max = Math.max(total, 1);
  p.value = done;
  $('progress-text').textContent = text;
}

function threshold(): number {
  return Number($<HTMLInputElement>('threshold').value);
}

async function readDropped(files: readonly { path: string; file: File }[]): Promise<DroppedFile[]> {
  return Promise.all(files.map(async (f) => ({ path: f.path, bytes: new Uint8Array(await f.file.arrayBuffer()) })));
}

/** Where each gallery entry's bytes come from (kept so that a backend switch can recompute). */
const sources = new Map<number, { file: File; mask?: { path: string; file: File } }>();

/** Adds dropped files: images to the gallery, masks paired with them; then runs the model image by image. */
async function addFiles(files: readonly { path: string; file: File }[]): Promise<void> {
  const { images, masks, ignored } = splitDropped(files);
  for (const f of ignored) showError(`${f.path}: not an image (expected .png, .jpg, .jpeg or .bmp); ignored`);
  const ids: number[] = [];
  for (const f of images) {
    const id = nextId++;
    const mask = masks.get(pairingKey(f.path));
    sources.set(id, { file: f.file, ...(mask ? { mask } : {}) });
    entries.push({ id, path: f.path, status: 'queued' });
    ids.push(id);
  }
  renderGallery();
  await runImages(ids);
}

/** Runs the model on the given entries, one image at a time, with progress; stops early when cancelled. */
async function runImages(ids: readonly number[]): Promise<void> {
  await workerReady;
  busy = true;
  cancelRequested = false;
  setState('busy');
  $<HTMLButtonElement>('cancel').disabled = false;
  let done = 0;
  for (const id of ids) {
    if (cancelRequested) break;
    progress(done, ids.length, `${done} of ${ids.length} images`);
    const entry = entries.find((e) => e.id === id)!;
    const source = sources.get(id)!;
    const [image] = await readDropped([{ path: entry.path, file: source.file }]);
    const mask = source.mask ? (await readDropped([source.mask]))[0] : undefined;
    const reply = await new Promise<FromWorker>((resolve) => {
      pending.set(id, resolve);
      send({ type: 'detect', id, path: image!.path, bytes: image!.bytes, ...(mask ? { mask } : {}) }, [image!.bytes.buffer]);
    });
    if (reply.type === 'result') {
      Object.assign(entry, {
        status: 'done',
        score: reply.score,
        map: reply.map,
        rgb: reply.rgb,
        size: reply.size,
        error: undefined,
        ...(reply.mask ? { mask: reply.mask } : {}),
      });
      if (reply.maskError) showError(`mask of ${entry.path}: ${reply.maskError}`);
      if (selected === undefined) selected = id;
    } else {
      Object.assign(entry, { status: 'error', error: reply.type === 'image-error' || reply.type === 'error' ? reply.message : 'no result' });
      showError(entry.error!);
    }
    done++;
    renderGallery();
    renderView();
  }
  for (const e of entries) if (e.status === 'queued') Object.assign(e, { status: 'error', error: `${e.path}: cancelled before it was processed` });
  progress(done, ids.length, `${done} of ${ids.length} images${cancelRequested ? ' (cancelled)' : ''}`);
  busy = false;
  $<HTMLButtonElement>('cancel').disabled = true;
  renderGallery();
  renderView();
  renderMetrics();
  setState('ready');
}

function drawRgb(canvas: HTMLCanvasElement, rgb: Uint8Array, size: ImageSize): void {
  const [height, width] = imageHW(size);
  canvas.width = width;
  canvas.height = height;
  const ctx = canvas.getContext('2d')!;
  const img = ctx.createImageData(width, height);
  for (let i = 0; i < width * height; i++) {
    img.data[4 * i] = rgb[3 * i]!;
    img.data[4 * i + 1] = rgb[3 * i + 1]!;
    img.data[4 * i + 2] = rgb[3 * i + 2]!;
    img.data[4 * i + 3] = 255;
  }
  ctx.putImageData(img, 0, 0);
}

/** The overlay as the page draws it: the heat map blended at the chosen opacity, the thresholded region's contour in white. */
function composeOverlay(e: ImageEntry, opacity: number, t: number): Uint8Array {
  const heat = heatmapRgb(e.map!, { min: 0, max: 1 });
  const contour = thresholdContour(e.map!, e.size!, t);
  const out = new Uint8Array(heat.length);
  for (let i = 0; i < contour.length; i++) {
    for (let c = 0; c < 3; c++) {
      out[3 * i + c] = contour[i] ? 255 : Math.round((1 - opacity) * e.rgb![3 * i + c]! + opacity * heat[3 * i + c]!);
    }
  }
  return out;
}

function renderGallery(): void {
  const gallery = $('gallery');
  gallery.replaceChildren();
  const order = $<HTMLSelectElement>('sort-select').value as SortOrder;
  for (const e of sortEntries(entries, order)) {
    const item = document.createElement('button');
    item.type = 'button';
    item.className = `thumb ${e.status}${e.id === selected ? ' selected' : ''}`;
    item.dataset['path'] = e.path;
    item.dataset['status'] = e.status;
    if (e.score !== undefined) item.dataset['score'] = String(e.score);
    if (e.rgb && e.size) {
      const c = document.createElement('canvas');
      drawRgb(c, e.rgb, e.size);
      item.append(c);
    }
    const label = document.createElement('span');
    label.textContent =
      e.status === 'done'
        ? `${e.score!.toFixed(4)} ${isAnomalous(e.score!, threshold()) ? 'ANOMALOUS' : 'normal'}`
        : e.status === 'queued'
          ? 'waiting'
          : 'unreadable';
    const name = document.createElement('small');
    name.textContent = e.path;
    if (e.error) name.title = e.error;
    item.append(label, name);
    item.onclick = () => {
      if (e.status !== 'done') return;
      selected = e.id;
      renderGallery();
      renderView();
    };
    gallery.append(item);
  }
  $<HTMLButtonElement>('export-csv').disabled = !entries.some((e) => e.status === 'done');
}

function renderView(): void {
  const e = entries.find((x) => x.id === selected && x.status === 'done');
  $('view').hidden = !e;
  if (!e) return;
  const opacity = Number($<HTMLInputElement>('opacity').value);
  const t = threshold();
  $('view-title').textContent = e.path;
  $('opacity-value').textContent = opacity.toFixed(2);
  $('threshold-value').textContent = t.toFixed(3);
  drawRgb($<HTMLCanvasElement>('overlay-canvas'), composeOverlay(e, opacity, t), e.size!);
  $('score').textContent = e.score!.toFixed(4);
  const anomalous = isAnomalous(e.score!, t);
  $('decision').textContent = anomalous ? 'ANOMALOUS' : 'normal';
  $('decision').className = anomalous ? 'anomalous' : 'normal';
  $('mask-figure').hidden = !e.mask;
  if (e.mask) {
    const rgb = new Uint8Array(e.mask.length * 3);
    for (let i = 0; i < e.mask.length; i++) rgb.fill(e.mask[i] ? 255 : 0, 3 * i, 3 * i + 3);
    drawRgb($<HTMLCanvasElement>('mask-canvas'), rgb, e.size!);
  }
}

function renderMetrics(): void {
  let result;
  try {
    result = pageMetrics(entries);
  } catch (e) {
    showError((e as Error).message);
  }
  $('metrics-pane').hidden = !result;
  if (!result) return;
  $('metrics-caption').textContent =
    `${result.images} images with a result, ${result.anomalous} with a defect in their mask (images without a mask count as normal).`;
  const body = $('metrics').querySelector('tbody')!;
  body.replaceChildren(
    ...result.rows.map((r) => {
      const tr = document.createElement('tr');
      tr.dataset['metric'] = r.name;
      const name = document.createElement('td');
      name.textContent = r.name;
      const value = document.createElement('td');
      value.textContent = r.value !== undefined ? r.value.toFixed(4) : `n/a (${r.reason})`;
      tr.append(name, value);
      return tr;
    }),
  );
}

function drawColorbar(): void {
  const c = $<HTMLCanvasElement>('colorbar');
  const ctx = c.getContext('2d')!;
  for (let x = 0; x < c.width; x++) {
    const [r, g, b] = colorOf(x / (c.width - 1));
    ctx.fillStyle = `rgb(${r},${g},${b})`;
    ctx.fillRect(x, 0, 1, c.height);
  }
}

function download(bytes: Uint8Array | string, name: string, type: string): void {
  const url = URL.createObjectURL(new Blob([bytes as BlobPart], { type }));
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.click();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function exportMap(kind: 'heatmap' | 'overlay'): void {
  const e = entries.find((x) => x.id === selected && x.status === 'done');
  if (!e) return;
  const stem = outputStems(entries.filter((x) => x.status === 'done').map((x) => x.path)).get(e.path)!;
  const png = kind === 'heatmap' ? heatmapPng(e.map!, e.size!, { min: 0, max: 1 }) : overlayPng(e.rgb!, e.map!, e.size!, { min: 0, max: 1 });
  download(png, `${stem}_${kind}.png`, 'image/png');
}

async function filesOfEntry(entry: FileSystemEntry, prefix: string, out: { path: string; file: File }[]): Promise<void> {
  if (entry.isFile) {
    const file = await new Promise<File>((resolve, reject) => (entry as FileSystemFileEntry).file(resolve, reject));
    out.push({ path: prefix + entry.name, file });
  } else if (entry.isDirectory) {
    const reader = (entry as FileSystemDirectoryEntry).createReader();
    for (;;) {
      const batch = await new Promise<FileSystemEntry[]>((resolve, reject) => reader.readEntries(resolve, reject));
      if (batch.length === 0) break;
      for (const child of batch) await filesOfEntry(child, `${prefix}${entry.name}/`, out);
    }
  }
}

interface DirectoryHandleLike {
  name: string;
  values(): AsyncIterable<{ kind: 'file' | 'directory'; name: string; getFile?: () => Promise<File> }>;
}

async function filesOfHandle(dir: DirectoryHandleLike, prefix: string, out: { path: string; file: File }[]): Promise<void> {
  for await (const h of dir.values()) {
    if (h.kind === 'file') out.push({ path: `${prefix}${dir.name}/${h.name}`, file: await h.getFile!() });
    else await filesOfHandle(h as unknown as DirectoryHandleLike, `${prefix}${dir.name}/`, out);
  }
}

function fromInput(input: HTMLInputElement): { path: string; file: File }[] {
  return [...(input.files ?? [])].map((file) => ({ path: file.webkitRelativePath || file.name, file }));
}

async function loadCheckpoint(file: File): Promise<void> {
  await workerReady;
  setState('busy');
  progress(0, 1, `loading ${file.name}…`);
  $<HTMLButtonElement>('cancel').disabled = false;
  const bytes = new Uint8Array(await file.arrayBuffer());
  const reply = await new Promise<FromWorker>((resolve) => {
    onModel = resolve;
    send({ type: 'load-model', name: file.name, bytes, ...frozenFiles });
  });
  onModel = undefined;
  $<HTMLButtonElement>('cancel').disabled = true;
  progress(1, 1, reply.type === 'model' ? `loaded ${file.name}` : `${file.name} was not loaded`);
  setState('ready');
  if (reply.type === 'error') showError(reply.message);
  else await rerun();
}

function wire(): void {
  const params = new URLSearchParams(location.search);
  const select = $<HTMLSelectElement>('backend-select');
  const asked = params.get('backend');
  if (asked === 'webgpu' || asked === 'wasm' || asked === 'auto') select.value = asked;
  select.onchange = () => {
    // A run in progress stops; once the new backend is ready every image is computed again on it.
    cancelRequested = true;
    void startWorker(select.value as BackendChoice)
      .then(() => rerun())
      .catch(() => undefined); // the reason is already on the page
  };
  $<HTMLInputElement>('file-input').onchange = (ev) => void addFiles(fromInput(ev.target as HTMLInputElement));
  $<HTMLInputElement>('folder-input').onchange = (ev) => void addFiles(fromInput(ev.target as HTMLInputElement));
  const picker = (window as { showDirectoryPicker?: () => Promise<DirectoryHandleLike> }).showDirectoryPicker;
  const dirButton = $<HTMLButtonElement>('dir-button');
  dirButton.hidden = !picker;
  dirButton.onclick = async () => {
    const dir = await picker!.call(window).catch(() => undefined);
    if (!dir) return;
    const out: { path: string; file: File }[] = [];
    await filesOfHandle(dir, '', out);
    await addFiles(out);
  };
  const drop = $('drop');
  drop.ondragover = (ev) => {
    ev.preventDefault();
    drop.classList.add('over');
  };
  drop.ondragleave = () => drop.classList.remove('over');
  drop.ondrop = async (ev) => {
    ev.preventDefault();
    drop.classList.remove('over');
    const out: { path: string; file: File }[] = [];
    const items = [...(ev.dataTransfer?.items ?? [])].map((i) => i.webkitGetAsEntry()).filter((e): e is FileSystemEntry => !!e);
    for (const entry of items) await filesOfEntry(entry, '', out);
    await addFiles(out);
  };
  $('cancel').onclick = () => {
    cancelRequested = true;
    if (onModel) {
      // Loading weights cannot be interrupted inside the worker: restart it with the demo model.
      onModel({ type: 'error', message: 'loading was cancelled; the demo model is back' });
      onModel = undefined;
      void startWorker(select.value as BackendChoice);
    }
  };
  $<HTMLSelectElement>('sort-select').onchange = renderGallery;
  $<HTMLInputElement>('opacity').oninput = renderView;
  $<HTMLInputElement>('threshold').oninput = () => {
    renderView();
    renderGallery();
  };
  $('export-csv').onclick = () => download(scoresCsv(entries, threshold()), 'scores.csv', 'text/csv');
  $('export-heatmap').onclick = () => exportMap('heatmap');
  $('export-overlay').onclick = () => exportMap('overlay');
  $<HTMLInputElement>('checkpoint-input').onchange = (ev) => {
    const f = (ev.target as HTMLInputElement).files?.[0];
    if (f) void loadCheckpoint(f);
  };
  for (const role of ['clip', 'backbone'] as const) {
    $<HTMLInputElement>(`${role === 'clip' ? 'clip' : 'backbone'}-input`).onchange = async (ev) => {
      const f = (ev.target as HTMLInputElement).files?.[0];
      if (f) frozenFiles[role] = { name: f.name, bytes: new Uint8Array(await f.arrayBuffer()) };
      progress(1, 1, `${f?.name ?? 'nothing'} ready as ${role === 'clip' ? 'CLIP' : 'DINO'} weights; now choose the checkpoint`);
    };
  }
  $('hub-download').onclick = async () => {
    const url = $<HTMLInputElement>('hub-url').value.trim();
    const role = $<HTMLSelectElement>('hub-role').value as 'clip' | 'backbone';
    const controller = new AbortController();
    $('cancel').addEventListener('click', () => controller.abort(), { once: true });
    $<HTMLButtonElement>('cancel').disabled = false;
    try {
      const got = await downloadWithCache(url, {
        signal: controller.signal,
        onProgress: (done, total) => progress(done, total ?? done, `${url}: ${(done / 1e6).toFixed(1)} MB${total ? ` of ${(total / 1e6).toFixed(1)} MB` : ''}`),
      });
      frozenFiles[role] = { name: url.split('/').pop() ?? url, bytes: got.bytes };
      progress(
        1,
        1,
        `${url}: ${(got.bytes.length / 1e6).toFixed(1)} MB ${got.fromCache ? 'from the browser cache (offline)' : 'downloaded and kept in the browser cache'}; now choose the checkpoint`,
      );
    } catch (e) {
      showError((e as Error).message);
    } finally {
      $<HTMLButtonElement>('cancel').disabled = true;
    }
  };
  drawColorbar();
  void startWorker(select.value as BackendChoice).catch(() => undefined);
}

/** After a backend or model switch: recompute every image that has a result or was waiting. */
async function rerun(): Promise<void> {
  if (busy) return;
  const ids = entries.filter((e) => e.status === 'done' || e.error?.includes('cancelled before it was processed')).map((e) => e.id);
  for (const e of entries) if (ids.includes(e.id)) e.status = 'queued';
  if (ids.length > 0) await runImages(ids);
}

wire();
