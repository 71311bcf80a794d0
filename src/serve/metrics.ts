import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * The server's Prometheus metrics, in a registry of its own (not prom-client's global one), so
 * two servers in one process (as in the tests) never share counters.
 */
export function createMetrics(defaultLabels: Record<string, string> = {}) {
  const registry = new Registry();
  registry.setDefaultLabels(defaultLabels);
  collectDefaultMetrics({ register: registry, prefix: 'resgpu_' });
  const registers = [registry];
  return {
    registry,
    requests: new Counter({
      name: 'resgpu_http_requests_total',
      help: 'HTTP requests answered, by route, method and status code.',
      labelNames: ['route', 'method', 'status'] as const,
      registers,
    }),
    latency: new Histogram({
      name: 'resgpu_http_request_duration_seconds',
      help: 'Time from request received to response sent, by route.',
      labelNames: ['route'] as const,
      buckets: [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers,
    }),
    batchRows: new Histogram({
      name: 'resgpu_batch_rows',
      help: 'Rows per model run (with dynamic batching, the rows of all the requests it coalesced).',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096],
      registers,
    }),
    batchRequests: new Histogram({
      name: 'resgpu_batch_requests',
      help: 'Requests coalesced into one model run.',
      buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256],
      registers,
    }),
    queueDepth: new Gauge({
      name: 'resgpu_queue_depth',
      help: 'Predict requests waiting for a model run.',
      registers,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
