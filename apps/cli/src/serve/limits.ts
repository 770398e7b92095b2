/**
 * The service's limits and batching defaults, apart from the HTTP stack so that `hgm serve`'s option
 * defaults read them without loading Fastify.
 */

/** Limits and batching of the service. */
export interface ServeLimits {
  /** Largest batch per forward pass. */
  batchSize: number;
  /** Longest wait for a batch to fill, in ms. */
  batchWaitMs: number;
  /** Most images waiting for the model; more get 503 with Retry-After. */
  maxQueue: number;
  /** Per-request timeout, in ms (504 after it). */
  timeoutMs: number;
  /** Largest request body, in bytes (413 above it). */
  bodyLimit: number;
  /** Largest image, in pixels (413 above it). */
  maxPixels: number;
  /** Most images in one batch request. */
  maxBatchImages: number;
}

export const DEFAULT_SERVE_LIMITS: ServeLimits = {
  batchSize: 8,
  batchWaitMs: 5,
  maxQueue: 64,
  timeoutMs: 30_000,
  bodyLimit: 20 * 1024 * 1024,
  maxPixels: 40_000_000,
  maxBatchImages: 32,
};
