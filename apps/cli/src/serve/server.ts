/**
 * The inference service behind `hgm serve`: Fastify routes over one loaded model, with requests that
 * arrive together micro-batched into one forward pass, Prometheus metrics (prom-client), an OpenAPI
 * document (@fastify/swagger), pino logs, and limits that protect the process (body size, pixel count,
 * a bounded queue answered with 503 + Retry-After, a per-request timeout).
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance, type FastifyRequest } from 'fastify';
import multipart from '@fastify/multipart';
import swagger from '@fastify/swagger';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import type { DestinationStream } from 'pino';
import { imageHW } from '@hgm/tensor';
import { DataError, preprocessImage, type DecodedImage } from '@hgm/data';
import { decodeImageNode } from '@hgm/data/node';
import { mapMaximum, originalMapPngs, predictImages, RateMeter, type EngineModel } from '@hgm/engine/node';
import { BatcherClosedError, DeadlineError, MicroBatcher, QueueFullError } from './micro-batcher';
import { PixelLimitError, checkPixelLimit } from './image-size-limit';
import { DEFAULT_SERVE_LIMITS, type ServeLimits } from './limits';
import { ImagePool, defaultImageWorkers } from './image-pool';

export interface ServerOptions {
  model: EngineModel;
  /** Name of the running tfjs backend (reported by /readyz). */
  backend: string;
  /** What runs the frozen vision encoder (`useExecutor`'s choice, reported by /readyz; default tfjs). */
  executor?: { executor: string; reason?: string | undefined; text?: string };
  /** What /readyz says about the model (checkpoint path, configuration name). */
  modelInfo: Record<string, unknown>;
  limits?: Partial<ServeLimits>;
  /** pino logger options or `false` for no logs (default: JSON logs on stdout). */
  logger?: boolean | { level?: string; stream?: DestinationStream };
  /**
   * The key every request but `GET /healthz` must carry as `Authorization: Bearer <key>` (compared in constant
   * time); 401 otherwise. Default: no authentication.
   */
  apiKey?: string;
  /**
   * Threads that decode and preprocess the images and draw the maps, off the event loop ({@link ImagePool});
   * 0 does that work on the main thread. Default: {@link defaultImageWorkers} (the cores but one).
   */
  imageWorkers?: number;
}

/** An HTTP error with a status and a message naming what was wrong. */
class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface Prediction {
  score: number;
  map: Float32Array;
}

interface ImageInput {
  name: string;
  bytes: Uint8Array;
}

const IMAGE_TYPES = ['image/png', 'image/jpeg', 'image/bmp', 'application/octet-stream'];

const detectionSchema = {
  type: 'object',
  properties: {
    image: { type: 'string' },
    score: { type: 'number', description: 'image anomaly score in [0, 1]' },
    anomalous: { type: 'boolean', description: 'score >= threshold (only with a threshold)' },
    threshold: { type: ['number', 'null'] },
    maxMap: { type: 'number', description: 'highest value of the anomaly map' },
    heatmap: { type: 'string', description: 'heat map PNG, base64 (with include=heatmap)' },
    overlay: { type: 'string', description: 'overlay PNG, base64 (with include=overlay)' },
  },
  required: ['image', 'score', 'threshold', 'maxMap'],
} as const;

const errorSchema = {
  type: 'object',
  properties: { statusCode: { type: 'integer' }, error: { type: 'string' }, message: { type: 'string' } },
  required: ['statusCode', 'error', 'message'],
} as const;

const querySchema = {
  type: 'object',
  properties: {
    threshold: { type: 'number', minimum: 0, maximum: 1, description: 'decision threshold on the image score' },
    include: {
      type: 'string',
      pattern: '^(heatmap|overlay)(,(heatmap|overlay))?$',
      description: 'maps to return as base64 PNG: heatmap, overlay or both (comma-separated)',
    },
  },
  additionalProperties: false,
} as const;

const STATUS_NAMES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  404: 'Not Found',
  413: 'Payload Too Large',
  415: 'Unsupported Media Type',
  422: 'Unprocessable Entity',
  500: 'Internal Server Error',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
};

/** The service's Prometheus metrics in their own registry (no global state). */
function createMetrics(queueDepth: () => number) {
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'hgm_' });
  return {
    registry,
    requests: new Counter({
      name: 'hgm_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['route', 'status'],
      registers: [registry],
    }),
    latency: new Histogram({
      name: 'hgm_http_request_duration_seconds',
      help: 'HTTP request latency',
      labelNames: ['route'],
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
      registers: [registry],
    }),
    batchSize: new Histogram({ name: 'hgm_batch_size', help: 'images per forward pass', buckets: [1, 2, 4, 8, 16, 32, 64], registers: [registry] }),
    batchSeconds: new Histogram({
      name: 'hgm_batch_duration_seconds',
      help: 'duration of one forward pass',
      buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers: [registry],
    }),
    images: new Counter({ name: 'hgm_images_total', help: 'images scored', registers: [registry] }),
    imagesPerSecond: new Gauge({ name: 'hgm_images_per_second', help: 'images scored per second (recent rate)', registers: [registry] }),
    queued: new Gauge({
      name: 'hgm_queue_depth',
      help: 'images waiting for the model',
      registers: [registry],
      collect() {
        this.set(queueDepth());
      },
    }),
  };
}

/** Builds the service (not yet listening). Closing it finishes in-flight requests and then the batcher. */
export async function buildServer(options: ServerOptions): Promise<FastifyInstance> {
  const limits: ServeLimits = { ...DEFAULT_SERVE_LIMITS, ...options.limits };
  const { model } = options;
  const size = model.preprocess.size;
  const [height, width] = imageHW(size);
  const metrics = createMetrics(() => batcher.queued);
  const meter = new RateMeter();
  meter.tick(0);
  const batcher = new MicroBatcher<Float32Array, Prediction>({
    maxBatch: limits.batchSize,
    maxWaitMs: limits.batchWaitMs,
    maxQueue: limits.maxQueue,
    run: async (pixels) => {
      const { scores, maps } = await predictImages(model, pixels);
      return pixels.map((_, j) => ({ score: scores[j]!, map: maps.slice(j * height * width, (j + 1) * height * width) }));
    },
    onBatch: (n, seconds) => {
      metrics.batchSize.observe(n);
      metrics.batchSeconds.observe(seconds);
      metrics.images.inc(n);
      meter.tick(n);
      metrics.imagesPerSecond.set(meter.rate() ?? 0);
    },
  });

  const logger = options.logger === undefined ? true : options.logger;
  const app = Fastify({
    logger: logger === true ? { level: 'info' } : logger,
    bodyLimit: limits.bodyLimit,
    return503OnClosing: true,
  });
  app.addContentTypeParser(IMAGE_TYPES, { parseAs: 'buffer' }, (_req, body, done) => done(null, body));
  await app.register(multipart, { limits: { fileSize: limits.bodyLimit, files: limits.maxBatchImages, fields: 8 } });
  await app.register(swagger, {
    openapi: {
      info: { title: 'hgm inference service', description: 'Zero-shot anomaly detection (Dual-Anchor with Hierarchical Group Merging)', version: '0.1.0' },
    },
  });

  const started = new WeakMap<FastifyRequest, number>();
  app.addHook('onRequest', async (req) => {
    started.set(req, performance.now());
  });
  if (options.apiKey !== undefined) {
    const check = bearerCheck(options.apiKey);
    app.addHook('onRequest', async (req) => {
      if (req.method === 'GET' && req.url.split('?')[0] === '/healthz') return;
      const problem = check(req.headers.authorization);
      if (problem) throw new HttpError(401, problem, { 'www-authenticate': 'Bearer realm="hgm"' });
    });
  }
  app.addHook('onResponse', async (req, reply) => {
    const route = req.routeOptions.url ?? 'unknown';
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    const t0 = started.get(req);
    if (t0 !== undefined) metrics.latency.observe({ route }, (performance.now() - t0) / 1000);
  });
  // On shutdown, answers in flight close their connection (keep-alive sockets would hold the exit otherwise).
  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
  });
  app.addHook('onSend', async (_req, reply) => {
    if (closing) void reply.header('connection', 'close');
  });
  const workers = options.imageWorkers ?? defaultImageWorkers();
  const pool = workers > 0 ? new ImagePool(workers) : null;
  app.addHook('onClose', async () => {
    await batcher.close();
    await pool?.close();
  });

  app.setErrorHandler((error: Error & { statusCode?: number; code?: string }, req, reply) => {
    const e = toHttpError(error, limits);
    if (e.statusCode >= 500 && e.statusCode !== 503 && e.statusCode !== 504) req.log.error({ err: error }, 'request failed');
    else req.log.info({ status: e.statusCode, reason: e.message }, 'request refused');
    void reply
      .status(e.statusCode)
      .headers(e.headers)
      .send({ statusCode: e.statusCode, error: STATUS_NAMES[e.statusCode] ?? 'Error', message: e.message });
  });
  app.setNotFoundHandler((req, reply) => {
    void reply.status(404).send({ statusCode: 404, error: 'Not Found', message: `no route ${req.method} ${req.url}` });
  });

  const score = async (input: ImageInput, threshold: number | undefined, include: readonly string[]) => {
    if (input.bytes.length === 0) throw new HttpError(400, `${input.name}: the body is empty, expected PNG, JPEG or BMP bytes`);
    checkPixelLimit(input.bytes, input.name, limits.maxPixels);
    // the decoder of `hgm detect` (sharp where it loads), and maps at the image's own size, as detect writes them
    let image: DecodedImage;
    let pixels: Float32Array;
    if (pool) ({ image, pixels } = await pool.prepare(input.bytes, input.name, limits.maxPixels, model.preprocess));
    else {
      image = await decodeImageNode(input.bytes, input.name, { maxPixels: limits.maxPixels });
      pixels = preprocessImage(image, model.preprocess);
    }
    const p = await batcher.submit(pixels, limits.timeoutMs);
    const out: Record<string, unknown> = {
      image: input.name,
      score: p.score,
      ...(threshold !== undefined ? { anomalous: p.score >= threshold } : {}),
      threshold: threshold ?? null,
      maxMap: mapMaximum(p.map),
    };
    if (include.includes('heatmap') || include.includes('overlay')) {
      const pngs = pool
        ? await pool.draw(image, p.map, model.preprocess, threshold)
        : originalMapPngs(image, p.map, model.preprocess, { norm: { min: 0, max: 1 }, ...(threshold !== undefined ? { threshold } : {}) });
      if (include.includes('heatmap')) out['heatmap'] = Buffer.from(pngs.heatmap).toString('base64');
      if (include.includes('overlay')) out['overlay'] = Buffer.from(pngs.overlay).toString('base64');
    }
    return out;
  };

  app.get(
    '/healthz',
    { schema: { description: 'the process is alive', response: { 200: { type: 'object', properties: { status: { type: 'string' } } } } } },
    async () => ({ status: 'ok' }),
  );
  const executor = options.executor ?? { executor: 'tfjs' };
  app.get('/readyz', { schema: { description: 'the model is loaded; names the backend and the executor of the frozen encoder' } }, async () => ({
    status: 'ready',
    backend: options.backend,
    executor: executor.executor,
    ...(executor.reason ? { executorReason: executor.reason } : {}),
    textExecutor: executor.text ?? 'tfjs',
    imageSize: size,
    batchSize: limits.batchSize,
    model: options.modelInfo,
  }));
  app.get('/metrics', { schema: { description: 'Prometheus metrics', hide: false } }, async (_req, reply) => {
    void reply.header('content-type', metrics.registry.contentType);
    return metrics.registry.metrics();
  });

  app.get('/docs/json', { schema: { hide: true } }, async () => app.swagger());

  app.post(
    '/v1/detect',
    {
      schema: {
        description: 'scores one image: the body is the image (image/png, image/jpeg, image/bmp, application/octet-stream) or a multipart form with one file',
        querystring: querySchema,
        response: { 200: detectionSchema, '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (req) => {
      const q = req.query as { threshold?: number; include?: string };
      let threshold = q.threshold;
      let input: ImageInput;
      if (req.isMultipart()) {
        const files = await readMultipart(req);
        if (files.images.length !== 1)
          throw new HttpError(400, `multipart body: expected exactly one file, found ${files.images.length} (use /v1/detect/batch for several)`);
        input = files.images[0]!;
        threshold ??= files.threshold;
      } else {
        input = { name: 'body', bytes: requireBody(req) };
      }
      return score(input, threshold, q.include?.split(',') ?? []);
    },
  );

  app.post(
    '/v1/detect/batch',
    {
      schema: {
        description: `scores several images sent as a multipart form (one file per image, at most ${limits.maxBatchImages})`,
        querystring: querySchema,
        response: { 200: { type: 'object', properties: { detections: { type: 'array', items: detectionSchema } } }, '4xx': errorSchema, '5xx': errorSchema },
      },
    },
    async (req) => {
      if (!req.isMultipart())
        throw new HttpError(
          415,
          `content type ${JSON.stringify(req.headers['content-type'] ?? '')}: the batch route takes multipart/form-data with one file per image`,
        );
      const q = req.query as { threshold?: number; include?: string };
      const files = await readMultipart(req);
      if (files.images.length === 0) throw new HttpError(400, 'multipart body: no file found, expected one file per image');
      const threshold = q.threshold ?? files.threshold;
      const include = q.include?.split(',') ?? [];
      return { detections: await Promise.all(files.images.map((f) => score(f, threshold, include))) };
    },
  );
  return app;
}

function requireBody(req: FastifyRequest): Uint8Array {
  const body = req.body;
  if (!Buffer.isBuffer(body))
    throw new HttpError(415, `content type ${JSON.stringify(req.headers['content-type'] ?? '')}: expected ${IMAGE_TYPES.join(', ')} or multipart/form-data`);
  return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
}

async function readMultipart(req: FastifyRequest): Promise<{ images: ImageInput[]; threshold?: number }> {
  const images: ImageInput[] = [];
  let threshold: number | undefined;
  for await (const part of req.parts()) {
    if (part.type === 'file') {
      const bytes = await part.toBuffer();
      images.push({ name: part.filename || part.fieldname, bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength) });
    } else if (part.fieldname === 'threshold') {
      const v = Number(part.value);
      if (!(v >= 0 && v <= 1)) throw new HttpError(400, `field threshold: expected a number in [0, 1], found ${JSON.stringify(part.value)}`);
      threshold = v;
    } else {
      throw new HttpError(400, `multipart field ${JSON.stringify(part.fieldname)}: unknown, expected files and an optional "threshold"`);
    }
  }
  return { images, ...(threshold !== undefined ? { threshold } : {}) };
}

function toHttpError(error: Error & { statusCode?: number; code?: string }, limits: ServeLimits): HttpError {
  if (error instanceof HttpError) return error;
  if (error instanceof PixelLimitError) return new HttpError(413, error.message);
  if (error instanceof DataError) return new HttpError(400, `not a readable image: ${error.message}`);
  if (error instanceof QueueFullError) return new HttpError(503, error.message, { 'retry-after': String(Math.max(1, Math.ceil(limits.batchWaitMs / 1000))) });
  if (error instanceof BatcherClosedError) return new HttpError(503, error.message, { 'retry-after': '1' });
  if (error instanceof DeadlineError) return new HttpError(504, error.message);
  if (error.code === 'FST_ERR_CTP_BODY_TOO_LARGE' || error.code === 'FST_REQ_FILE_TOO_LARGE')
    return new HttpError(413, `the body is larger than the limit of ${limits.bodyLimit} bytes`);
  if (error.code === 'FST_ERR_CTP_INVALID_MEDIA_TYPE') return new HttpError(415, `${error.message}; expected ${IMAGE_TYPES.join(', ')} or multipart/form-data`);
  if (error.code === 'FST_ERR_CTP_EMPTY_JSON_BODY' || error.code === 'FST_ERR_CTP_INVALID_JSON_BODY')
    return new HttpError(415, `expected ${IMAGE_TYPES.join(', ')} or multipart/form-data, found a JSON body`);
  if (error.code === 'FST_ERR_VALIDATION') return new HttpError(400, error.message);
  if (typeof error.statusCode === 'number' && error.statusCode >= 400 && error.statusCode < 500) return new HttpError(error.statusCode, error.message);
  return new HttpError(500, error.message);
}

/**
 * A check of `Authorization` headers against `key`: undefined when the header is `Bearer <key>`, otherwise
 * what was wrong. The key is compared as SHA-256 digests with `timingSafeEqual`, so the time does not depend
 * on where a wrong key differs, nor on its length.
 */
export function bearerCheck(key: string): (header: string | undefined) => string | undefined {
  const want = createHash('sha256').update(key, 'utf8').digest();
  return (header) => {
    if (!header) return 'this service needs an API key: send Authorization: Bearer <key>';
    const m = /^Bearer +(\S+) *$/i.exec(header);
    if (!m) return 'the Authorization header must be Bearer <key>';
    const got = createHash('sha256').update(m[1]!, 'utf8').digest();
    return timingSafeEqual(got, want) ? undefined : 'wrong API key';
  };
}
