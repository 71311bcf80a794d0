// One fused dense layer per dispatch:
//
//   SHORTCUT == 0 (linear):              y = act(a · w + bias)
//   SHORTCUT == 1 (residual, identity):  y = relu(a · w + bias + x)
//   SHORTCUT == 2 (residual, projection): y = relu([a | x] · w + bias)
//
// With a projection the shortcut GEMM runs inside this dispatch: w holds the block's second
// weight and the shortcut weight stacked along the inner dimension, and bias holds both biases
// summed, so a residual block costs exactly two dispatches whatever its shortcut.
//
// Layouts, prepared once at load time (row-major, zero padding; see src/runtime/webgpu/layout.ts
// and src/kernels/transposed-weights.ts):
//   a    [rows, inner]           rows padded to a multiple of 4, widths to a multiple of 8
//   x    [rows, shortcut_inner]  SHORTCUT 2;  [rows, cols] for SHORTCUT 1;  unused for 0
//   w    [inner + shortcut_inner, cols]   PyTorch's weight transposed, BatchNorm folded in
//   bias [cols]
//   y    [rows, cols]
// Padded columns of y are written as exact zeros (columns >= out_cols), not computed: computed,
// they would be sum(a * 0) + 0, which is NaN when a row of a holds an Inf, and that NaN would
// reach every output of the next layer through its padded inner dimension (NaN * 0 = NaN),
// where PyTorch has none. Zeros keep each row's NaN and Inf where PyTorch has them.
//
// Each invocation computes a 4 x 8 tile of y in eight named vec4f registers (row i, low and
// high half). Named registers, not an indexed array: compilers keep them in registers, while
// an indexed local array can spill (10x slower on SwiftShader). No workgroup memory, so no
// barriers, which cost a coroutine switch per barrier on SwiftShader.

struct Shape {
  rows: u32,
  cols: u32,
  inner: u32,
  shortcut_inner: u32,
  out_cols: u32,
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;
// w (binding 3) and weight4() come from the weight prelude: shaders/weights_f32.wgsl or weights_f16.wgsl.
@group(0) @binding(4) var<storage, read> bias: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

override SHORTCUT: u32 = 0u;
override RELU: bool = true;
override WORKGROUP_X: u32 = 8u;
override WORKGROUP_Y: u32 = 8u;

struct Tile {
  r0l: vec4f, r0h: vec4f,
  r1l: vec4f, r1h: vec4f,
  r2l: vec4f, r2h: vec4f,
  r3l: vec4f, r3h: vec4f,
}

// acc + s.x * w0 + s.y * w1 + s.z * w2 + s.w * w3: one tile row, four steps of the inner dimension.
fn mac(acc: vec4f, s: vec4f, w0: vec4f, w1: vec4f, w2: vec4f, w3: vec4f) -> vec4f {
  // Plain multiply-adds, not fma(): where the target lacks fused multiply-add, fma() must be
  // emulated exactly (a libm call on some software adapters), while a * b + c may be contracted.
  return acc + s.x * w0 + s.y * w1 + s.z * w2 + s.w * w3;
}

// Adds four inner steps to the tile: s0..s3 are four rows of the left operand at inner step k4
// (vec4 units), and the matching four rows of w start at vec4 index wrow.
fn accumulate(t: Tile, s0: vec4f, s1: vec4f, s2: vec4f, s3: vec4f, wrow: u32, cols4: u32) -> Tile {
  let w0l = weight4(wrow);
  let w0h = weight4(wrow + 1u);
  let w1l = weight4(wrow + cols4);
  let w1h = weight4(wrow + cols4 + 1u);
  let w2l = weight4(wrow + 2u * cols4);
  let w2h = weight4(wrow + 2u * cols4 + 1u);
  let w3l = weight4(wrow + 3u * cols4);
  let w3h = weight4(wrow + 3u * cols4 + 1u);
  return Tile(
    mac(t.r0l, s0, w0l, w1l, w2l, w3l), mac(t.r0h, s0, w0h, w1h, w2h, w3h),
    mac(t.r1l, s1, w0l, w1l, w2l, w3l), mac(t.r1h, s1, w0h, w1h, w2h, w3h),
    mac(t.r2l, s2, w0l, w1l, w2l, w3l), mac(t.r2h, s2, w0h, w1h, w2h, w3h),
    mac(t.r3l, s3, w0l, w1l, w2l, w3l), mac(t.r3h, s3, w0h, w1h, w2h, w3h),
  );
}

// c4: the vec4 index of these four columns within the row.
fn finish(acc: vec4f, extra: vec4f, c4: u32) -> vec4f {
  var v = acc + extra;
  if (RELU) {
    // PyTorch's ReLU keeps NaN (a missing value stays missing). WGSL's max(NaN, 0) may return
    // either operand, so compare instead: NaN < 0 is false and NaN passes through.
    v = select(v, vec4f(0.0), v < vec4f(0.0));
  }
  let col = vec4u(4u * c4) + vec4u(0u, 1u, 2u, 3u);
  return select(vec4f(0.0), v, col < vec4u(shape.out_cols));
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let cols4 = shape.cols / 4u;
  let tile_col = gid.x; // 8 columns = 2 vec4s
  let tile_row = gid.y; // 4 rows
  if (tile_col * 2u >= cols4 || tile_row * 4u >= shape.rows) {
    return;
  }
  let c = tile_col * 2u;
  let r = tile_row * 4u;

  let b = bias[c];
  let bh = bias[c + 1u];
  var t = Tile(b, bh, b, bh, b, bh, b, bh);

  let inner4 = shape.inner / 4u;
  for (var k = 0u; k < inner4; k++) {
    t = accumulate(t, a[r * inner4 + k], a[(r + 1u) * inner4 + k], a[(r + 2u) * inner4 + k],
                   a[(r + 3u) * inner4 + k], 4u * k * cols4 + c, cols4);
  }

  if (SHORTCUT == 2u) {
    // Projection shortcut: continue down w's stacked rows with x as the left operand.
    let short4 = shape.shortcut_inner / 4u;
    let base = shape.inner * cols4;
    for (var k = 0u; k < short4; k++) {
      t = accumulate(t, x[r * short4 + k], x[(r + 1u) * short4 + k], x[(r + 2u) * short4 + k],
                     x[(r + 3u) * short4 + k], base + 4u * k * cols4 + c, cols4);
    }
  }

  var s0l = vec4f(0.0); var s0h = vec4f(0.0);
  var s1l = vec4f(0.0); var s1h = vec4f(0.0);
  var s2l = vec4f(0.0); var s2h = vec4f(0.0);
  var s3l = vec4f(0.0); var s3h = vec4f(0.0);
  if (SHORTCUT == 1u) {
    // Identity shortcut: x has y's shape.
    s0l = x[r * cols4 + c];        s0h = x[r * cols4 + c + 1u];
    s1l = x[(r + 1u) * cols4 + c]; s1h = x[(r + 1u) * cols4 + c + 1u];
    s2l = x[(r + 2u) * cols4 + c]; s2h = x[(r + 2u) * cols4 + c + 1u];
    s3l = x[(r + 3u) * cols4 + c]; s3h = x[(r + 3u) * cols4 + c + 1u];
  }

  y[r * cols4 + c] = finish(t.r0l, s0l, c);
  y[r * cols4 + c + 1u] = finish(t.r0h, s0h, c + 1u);
  y[(r + 1u) * cols4 + c] = finish(t.r1l, s1l, c);
  y[(r + 1u) * cols4 + c + 1u] = finish(t.r1h, s1h, c + 1u);
  y[(r + 2u) * cols4 + c] = finish(t.r2l, s2l, c);
  y[(r + 2u) * cols4 + c + 1u] = finish(t.r2h, s2h, c + 1u);
  y[(r + 3u) * cols4 + c] = finish(t.r3l, s3l, c);
  y[(r + 3u) * cols4 + c + 1u] = finish(t.r3h, s3h, c + 1u);
}
