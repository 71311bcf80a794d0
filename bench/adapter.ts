import { describeAdapter } from '../src/runtime/webgpu/device.js';

/** The page's adapter header: one readable line, a warning on a software adapter, the details folded away. */
export interface AdapterReport {
  vendor?: string;
  architecture?: string;
  description?: string;
  software?: boolean;
  features?: string[];
  limits?: Record<string, number>;
  error?: string;
}

const LIMITS = ['maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'] as const;

export async function adapterReport(): Promise<AdapterReport> {
  const adapter = await navigator.gpu?.requestAdapter();
  if (!adapter) return { error: 'no WebGPU adapter' };
  const { vendor, architecture, description } = adapter.info;
  return {
    vendor,
    architecture,
    description,
    software: describeAdapter(adapter.info)?.software ?? false,
    features: [...adapter.features].sort(),
    limits: Object.fromEntries(LIMITS.map((k) => [k, adapter.limits[k]])),
  };
}

/** "Google · swiftshader · SwiftShader Device (Subzero)": the non-empty, distinct names, in order. */
export function adapterLine(a: AdapterReport): string {
  if (a.error) return `Adapter: none (${a.error}): only the CPU contenders can run.`;
  const names = [a.vendor, a.architecture, a.description].filter((n): n is string => !!n);
  return `Adapter: ${[...new Set(names)].join(' · ') || 'unnamed'}`;
}

export function showAdapter(a: AdapterReport) {
  document.querySelector('#adapter-line')!.textContent = adapterLine(a);
  document.querySelector<HTMLElement>('#software-warning')!.hidden = !a.software && !a.error;
  const detail = [
    ...(a.limits ? Object.entries(a.limits).map(([k, v]) => `${k}: ${v.toLocaleString('en')}`) : []),
    ...(a.features ? [`features: ${a.features.join(', ') || 'none'}`] : []),
  ];
  document.querySelector('#adapter-details')!.textContent = detail.join('\n');
}
