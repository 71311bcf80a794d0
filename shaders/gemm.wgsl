// One fused GEMM step per dispatch: y = epilogue(a · w), or epilogue([a | x] · w) with a
// projection shortcut (RESIDUAL == 2), whose GEMM runs inside this dispatch: w holds the
// block's second weight and the shortcut weight stacked along the inner dimension, and the
// bias both biases summed, so a residual block costs exactly two dispatches whatever its
// shortcut. The epilogue (bias, identity residual, scale and shift, activation, zeroed padding)
// and the bindings shape, x and params come from shaders/epilogue.wgsl; w and weight4() from
// the weight prelude (shaders/weights_f32.wgsl or weights_f16.wgsl).
//
// Layouts, prepared once at load time (row-major, zero padding; see src/runtime/webgpu/layout.ts
// and src/kernels/transposed-weights.ts):
//   a      [rows, inner]           rows padded to a multiple of 4, widths to a multiple of 8
//   x      [rows, shortcut_inner]  RESIDUAL 2;  [rows, cols] for RESIDUAL 1;  unused for 0
//   w      [inner + shortcut_inner, cols]   PyTorch's weight transposed, BatchNorms folded in
//   params [bias | scale | shift], [cols] each
//   y      [rows, cols]
//
// Each invocation computes a 4 x 8 tile of y in eight named vec4f registers (row i, low and
// high half). Named registers, not an indexed array: compilers keep them in registers, while
// an indexed local array can spill (10x slower on SwiftShader). No workgroup memory, so no
// barriers, which cost a coroutine switch per barrier on SwiftShader.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

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

  let z = vec4f(0.0);
  var t = Tile(z, z, z, z, z, z, z, z);

  let inner4 = shape.inner / 4u;
  for (var k = 0u; k < inner4; k++) {
    t = accumulate(t, a[r * inner4 + k], a[(r + 1u) * inner4 + k], a[(r + 2u) * inner4 + k],
                   a[(r + 3u) * inner4 + k], 4u * k * cols4 + c, cols4);
  }

  if (RESIDUAL == 2u) {
    // Projection shortcut: continue down w's stacked rows with x as the left operand.
    let short4 = shape.shortcut_inner / 4u;
    let base = shape.inner * cols4;
    for (var k = 0u; k < short4; k++) {
      t = accumulate(t, x[r * short4 + k], x[(r + 1u) * short4 + k], x[(r + 2u) * short4 + k],
                     x[(r + 3u) * short4 + k], base + 4u * k * cols4 + c, cols4);
    }
  }

  y[r * cols4 + c] = epilogue(t.r0l, r, c);
  y[r * cols4 + c + 1u] = epilogue(t.r0h, r, c + 1u);
  y[(r + 1u) * cols4 + c] = epilogue(t.r1l, r + 1u, c);
  y[(r + 1u) * cols4 + c + 1u] = epilogue(t.r1h, r + 1u, c + 1u);
  y[(r + 2u) * cols4 + c] = epilogue(t.r2l, r + 2u, c);
  y[(r + 2u) * cols4 + c + 1u] = epilogue(t.r2h, r + 2u, c + 1u);
  y[(r + 3u) * cols4 + c] = epilogue(t.r3l, r + 3u, c);
  y[(r + 3u) * cols4 + c + 1u] = epilogue(t.r3h, r + 3u, c + 1u);
}
