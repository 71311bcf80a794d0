// Weight storage, f16 pairs packed in u32 (half the memory and bandwidth of f32, and no need
// for the 'shader-f16' feature): the same layout as weights_f32.wgsl, each element an IEEE
// half; one vec2<u32> holds 4 consecutive columns. Unpacked to f32: accumulation stays f32.
@group(0) @binding(3) var<storage, read> w: array<vec2<u32>>;

fn weight4(i: u32) -> vec4f {
  let p = w[i];
  return vec4f(unpack2x16float(p.x), unpack2x16float(p.y));
}
