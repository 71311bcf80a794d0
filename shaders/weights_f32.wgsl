// Weight storage, f32: w holds a step's packed weights (src/kernels/transposed-weights.ts),
// [inner rows, cols] row-major. weight4(i) is the i-th group of 4 consecutive columns of a row:
// row k, columns 4c..4c+3 is i = k * cols / 4 + c. Every dense kernel reads weights only
// through weight4, so the same kernel body runs on f32 or f16 weights.
@group(0) @binding(3) var<storage, read> w: array<vec4f>;

fn weight4(i: u32) -> vec4f {
  return w[i];
}
