import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The server's Prometheus metrics, in a registry of its own (not prom-client's global one), so
 * two servers in one process (as in the tests) never share counters. Everything a model does
 * carries `model` and `version` labels; HTTP metrics carry `model` too (empty for routes that
 * name no model, and for names the server does not serve, so a scanner cannot grow the series).
 */
export function createMetrics(defaultLabels: Record<string, string> = {}) {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry, prefix: 'resgpu_' });
  const registers = [registry];
  const byModel = ['model', 'version'] as const;
  return {
    registry,
    requests: new Counter({
      name: 'resgpu_http_requests_total',
      help: 'HTTP requests answered, by route, method, status code and model.',
      labelNames: ['route', 'method', 'status', 'model'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'resgpu_http_request_duration_seconds',
      help: 'Time from request received to response sent, by route and model.',
      labelNames: ['route', 'model'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchRows: new Histogram({
      name: 'resgpu_batch_rows',
      help: 'Rows per model run (with dynamic batching, the rows of all the requests it coalesced).',
      labelNames: byModel,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
      registers,
    }),
    batchRequests: new Histogram({
      name: 'resgpu_batch_requests',
      help: 'Requests coalesced into one model run.',
      labelNames: byModel,
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'resgpu_queue_depth',
      help: 'Requests waiting for a model run.',
      labelNames: byModel,
      registers,
    }),
    abandoned: new Counter({
      name: 'resgpu_abandoned_requests_total',
      help: 'Requests whose client went away while they waited: dropped from the queue before any model run.',
      labelNames: byModel,
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
