import { describe, expect, test } from 'vitest';
// wgsl_reflect's package "main" is CommonJS inside a "type": "module" package; its ES build imports cleanly.
import { WgslReflect } from 'wgsl_reflect/wgsl_reflect.module.js';
import { GEMM_WORKGROUP, gemmKernel } from '../src/kernels/gemm.js';
import type { KernelDef } from '../src/kernels/kernel.js';
import { KERNELS } from '../src/kernels/registry.js';

/**
 * Each kernel's TypeScript declaration against its shader, reflected: a binding renamed,
 * renumbered or made writable in WGSL (or a uniform field added) without the TS side
 * following fails here instead of at bind time on someone's GPU.
 */
const kernels = [...new Set(Object.values(KERNELS).map((k) => k.kernel))];

describe.each(kernels.map((k) => [k.file, k] as [string, KernelDef]))('%s', (_, kernel) => {
  const reflect = new WgslReflect(kernel.shader);
  const group = reflect.getBindGroups();

  test('declares exactly the bindings of group 0, with matching names and access', () => {
    expect(group).toHaveLength(1);
    const reflected = group[0]!.map((b) => {
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
});

test('every registered variant sets only overrides its shader declares', () => {
  for (const [name, { kernel, constants }] of Object.entries(KERNELS)) {
    for (const key of Object.keys(constants)) expect(kernel.overrides, `${name}.${key}`).toContain(key);
  }
});

test("the gemm dispatch math uses the shader's workgroup size", () => {
  const main = new WgslReflect(gemmKernel.shader).entry.compute.find((e) => e.name === 'main')!;
  expect(main.workgroupSize).toEqual([...GEMM_WORKGROUP, 1]);
});
