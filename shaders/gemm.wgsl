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
// high half; Tile and accumulate() from shaders/tile_4x8.wgsl, shared with the conv kernel). Named registers, not an indexed array: compilers keep them in registers, while
// an indexed local array can spill (10x slower on SwiftShader). No workgroup memory, so no
// barriers, which cost a coroutine switch per barrier on SwiftShader.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

override WORKGROUP_X: u32 = 8u;
override WORKGROUP_Y: u32 = 8u;

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

  store_tile(t, r, c, cols4);
}
