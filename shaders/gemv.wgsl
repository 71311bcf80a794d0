// Small batches (GEMV with split-K): one fused GEMM step, y = epilogue(a · w), for
// batches too small to fill a GPU with output tiles. A workgroup owns COLS4 groups of 4 output
// columns and ROWS batch rows; its SPLIT invocations per column group each sum a strided slice
// of the inner dimension, and the partial sums are added in workgroup memory. A 1024-wide layer
// at batch 1 so runs 128 workgroups of 128 invocations (the register-tiled gemm runs 2), each
// streaming its columns of w once, which is what bounds batch 1: reading the weights.
//
// With a projection shortcut (RESIDUAL == 2), x is a second left operand over w's stacked rows.
// Layouts as in gemm.wgsl: activations [rows, width] row-major, rows padded to 4 and widths to
// 8 (so every column group of a dispatched workgroup exists and no row load is out of range);
// w and weight4() from the weight prelude; the epilogue and the bindings shape, x and params
// from shaders/epilogue.wgsl.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

const COLS4: u32 = 2u; // column groups of 4 per workgroup: 8 columns, the feature padding
const SPLIT: u32 = 64u; // invocations summing slices of the inner dimension, per column group
const ROWS: u32 = 4u; // batch rows per workgroup, the row padding

var<workgroup> partial: array<vec4f, 512>; // [ROWS][SPLIT][COLS4]

struct Rows {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
}

// Adds inner steps 4k..4k+3 to four rows' sums: s0..s3 are the rows' left operands at k (one
// vec4 each), and wi is the weight4 index of inner row 4k in this column group.
fn accumulate(t: Rows, s0: vec4f, s1: vec4f, s2: vec4f, s3: vec4f, wi: u32, cols4: u32) -> Rows {
  let w0 = weight4(wi);
  let w1 = weight4(wi + cols4);
  let w2 = weight4(wi + 2u * cols4);
  let w3 = weight4(wi + 3u * cols4);
  return Rows(
    t.r0 + s0.x * w0 + s0.y * w1 + s0.z * w2 + s0.w * w3,
    t.r1 + s1.x * w0 + s1.y * w1 + s1.z * w2 + s1.w * w3,
    t.r2 + s2.x * w0 + s2.y * w1 + s2.z * w2 + s2.w * w3,
    t.r3 + s3.x * w0 + s3.y * w1 + s3.z * w2 + s3.w * w3,
  );
}

@compute @workgroup_size(128) // COLS4 * SPLIT
fn main(@builtin(local_invocation_index) li: u32, @builtin(workgroup_id) wg: vec3u) {
  let cols4 = shape.cols / 4u;
  let cx = li % COLS4;
  let s = li / COLS4;
  let c4 = wg.x * COLS4 + cx;
  let r = wg.y * ROWS;

  var t = Rows(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));
  let inner4 = shape.inner / 4u;
  for (var k = s; k < inner4; k += SPLIT) {
    t = accumulate(t, a[r * inner4 + k], a[(r + 1u) * inner4 + k], a[(r + 2u) * inner4 + k],
                   a[(r + 3u) * inner4 + k], 4u * k * cols4 + c4, cols4);
  }
  if (RESIDUAL == 2u) {
    // Projection shortcut: continue down w's stacked rows with x as the left operand.
    let short4 = shape.shortcut_inner / 4u;
    let base = shape.inner * cols4;
    for (var k = s; k < short4; k += SPLIT) {
      t = accumulate(t, x[r * short4 + k], x[(r + 1u) * short4 + k], x[(r + 2u) * short4 + k],
                     x[(r + 3u) * short4 + k], base + 4u * k * cols4 + c4, cols4);
    }
  }

  // Tree reduction over the SPLIT slices, all four rows at once.
  partial[(0u * SPLIT + s) * COLS4 + cx] = t.r0;
  partial[(1u * SPLIT + s) * COLS4 + cx] = t.r1;
  partial[(2u * SPLIT + s) * COLS4 + cx] = t.r2;
  partial[(3u * SPLIT + s) * COLS4 + cx] = t.r3;
  workgroupBarrier();
  for (var stride = SPLIT / 2u; stride > 0u; stride /= 2u) {
    if (s < stride) {
      for (var i = 0u; i < ROWS; i++) {
        partial[(i * SPLIT + s) * COLS4 + cx] += partial[(i * SPLIT + s + stride) * COLS4 + cx];
      }
    }
    workgroupBarrier();
  }

  // The epilogue: one invocation per (row, column group).
  if (s < ROWS) {
    let row = r + s;
    y[row * cols4 + c4] = epilogue(partial[s * SPLIT * COLS4 + cx], row, c4);
  }
}
