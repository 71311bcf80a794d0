import { describe, expect, test } from 'vitest';
// wgsl_reflect's package "main" is CommonJS inside a "type": "module" package; its ES build imports cleanly.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { fuseAnyGraph } from '../src/graph/fuse.js';
import type { AnyStep } from '../src/graph/steps.js';
import type { KernelDef } from '../src/kernels/kernel.js';
import { KERNELS } from '../src/kernels/registry.js';
import { parseManifest } from '../src/loader/manifest.js';
import { graphOf } from '../src/loader/resolve.js';
import { parseSafetensors } from '../src/loader/safetensors.js';
import { stepLayout, valueStrides } from '../src/runtime/webgpu/layout.js';
import { makeRandomCnn } from './helpers/random-cnn.js';
import { makeRandomGraph } from './helpers/random-graph.js';
import { makeRandomModel } from './helpers/random-model.js';

/**
 * Each kernel's TypeScript declaration against its shader, reflected: a binding renamed,
 * renumbered or made writable in WGSL (or a uniform field added) without the TS side
 * following fails here instead of at bind time on someone's GPU.
 */
const kernels = KERNELS;

/** One step of every kind: linear, linear_relu, residual_identity, residual_projection. */
function everyStepKind(): AnyStep[] {
  const { bytes, manifest } = makeRandomModel({ input: 5, stem: { out: 6, activation: 'relu' }, blocks: [{ hidden: 7 }, { hidden: 4, out: 3 }], head: { out: 2 } });
  return fuseAnyGraph(graphOf(parseManifest(manifest), parseSafetensors(bytes).tensors)).steps;
}

/** The image steps: convolutions with and without a projection or an identity residual, every pooling op. */
function imageModels() {
  return (['basic', 'bottleneck'] as const).map((family) => {
    const { bytes, manifest } = makeRandomCnn(family);
    const fused = fuseAnyGraph(graphOf(parseManifest(manifest), parseSafetensors(bytes).tensors));
    return { fused, layout: stepLayout(fused, valueStrides(fused), 4) };
  });
}

describe.each(kernels.map((k) => [`${k.name} (${k.precision} weights, ${k.file})`, k] as [string, KernelDef]))('%s', (_, kernel) => {
  const reflect = new WgslReflect(kernel.shader);
  const group = reflect.getBindGroups();

  test('declares exactly the bindings of group 0, with matching names and access', () => {
    expect(group).toHaveLength(1);
    const reflected = group[0]!.filter((b) => b).map((b) => {
      const type = b.resourceType === 0 ? 'uniform' : b.access === 'read' ? 'read-only-storage' : 'storage';
      return { name: b.name, binding: b.binding, type };
    });
    expect(reflected).toEqual(kernel.bindings);
  });

  test('declares the uniform struct fields in order, as tightly packed u32s', () => {
    const uniform = reflect.uniforms.find((u) => u.type.name === kernel.uniform.struct);
    expect(uniform, `uniform of type ${kernel.uniform.struct}`).toBeDefined();
    const members = (uniform!.type as unknown as { members: { name: string; offset: number; type: { name: string } }[] }).members;
    expect(members.map((m) => [m.name, m.offset, m.type.name])).toEqual(kernel.uniform.fields.map((f, i) => [f, 4 * i, 'u32']));
  });

  test('has the entry point and every override the runtime sets', () => {
    expect(reflect.entry.compute.map((e) => e.name)).toContain(kernel.entryPoint);
    expect(reflect.overrides.map((o) => o.name).sort()).toEqual([...kernel.overrides].sort());
  });


  test('sets only overrides its shader declares, and binds every declared binding, for every kind of step', () => {
    const all = everyStepKind();
    expect(new Set(all.map((s) => s.op))).toEqual(new Set(['linear', 'linear_relu', 'residual_identity', 'residual_projection']));
    const steps = all.filter((s) => s.kind === kernel.stepKind);
    const strides = Array.from({ length: steps.length + 1 }, () => 8);
    for (const step of steps) {
      for (const key of Object.keys(kernel.constants(step))) expect(kernel.overrides, `${step.op}: ${key}`).toContain(key);
      const run = kernel.runData(step, { rows: 4, strides, batch: 4, pixels: strides.map(() => 1), shapes: strides.map(() => [8]) });
      expect(Object.keys(run.bindings).sort(), step.op).toEqual(kernel.bindings.map((b) => b.name).sort());
      expect(Object.keys(run.uniforms).sort(), step.op).toEqual([...kernel.uniform.fields].sort());
    }
    for (const { fused, layout } of imageModels()) {
      for (const step of fused.steps.filter((s) => s.kind === kernel.stepKind)) {
        for (const key of Object.keys(kernel.constants(step))) expect(kernel.overrides, `${step.op}: ${key}`).toContain(key);
        const run = kernel.runData(step, layout);
        expect(Object.keys(run.bindings).sort(), step.op).toEqual(kernel.bindings.map((b) => b.name).sort());
        expect(Object.keys(run.uniforms).sort(), step.op).toEqual([...kernel.uniform.fields].sort());
      }
    }
  });

  test('runs some step of the test models (every kernel is covered)', () => {
    const ln = makeRandomGraph('prenorm_ln', { fn: 'relu' });
    const norms = fuseAnyGraph(graphOf(parseManifest(ln.manifest), parseSafetensors(ln.bytes).tensors)).steps;
    const kinds = new Set([...everyStepKind(), ...norms, ...imageModels().flatMap((m) => m.fused.steps)].map((s) => s.kind));
    expect(kinds).toContain(kernel.stepKind);
  });

  test("dispatch math uses the shader's workgroup size", () => {
    const main = reflect.entry.compute.find((e) => e.name === kernel.entryPoint)!;
    expect(main.workgroupSize).toEqual([...kernel.workgroupSize]);
  });
});
