// One fused convolution step per dispatch, as an implicit GEMM: M = batch * out_h * out_w output
// pixels, N = output channels, K = KH * KW * input channels; y = epilogue(conv(a, w)), or with a
// projection shortcut (RESIDUAL == 2) epilogue(conv(a, w) + conv1x1(x, ws)), the shortcut's 1x1
// stride-(PSH, PSW) downsample conv continuing down w's stacked rows, so that a residual block
// is two dispatches whatever its shortcut. The epilogue and the bindings shape, x and params come
// from shaders/epilogue.wgsl; Tile and accumulate() from shaders/tile_4x8.wgsl; w and weight4()
// from the weight prelude (f32 or f16).
//
// Layouts (channels-last, see src/runtime/webgpu/layout.ts and src/kernels/conv.ts):
//   a      [batch, in_h, in_w, inner]          pixel rows of the input, channels padded to 8
//   x      [batch, x_h, x_w, shortcut_inner]   RESIDUAL 2;  [rows, cols] for RESIDUAL 1
//   w      [KH, KW, inner, cols], then [shortcut_inner, cols] with a projection, BatchNorms folded in
//   params [bias | scale | shift], [cols] each
//   y      [batch, out_h, out_w, cols]         rows padded to a multiple of 4
//
// Each invocation computes 4 consecutive output pixels x 8 channels, like the gemm kernel (no
// workgroup memory, no barriers: fastest on SwiftShader), reading each tap's 4 input pixels as
// vec4 loads along channels. A tap outside the image (zero padding), or a pixel past the last
// output, reads zero: selected, not multiplied, so an Inf elsewhere never becomes NaN here.
// The window is in override constants: a ResNet has few distinct ones, and constant loop
// bounds let the compiler unroll the taps.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

override WORKGROUP_X: u32 = 8u;
override WORKGROUP_Y: u32 = 8u;
override KH: u32 = 1u;
override KW: u32 = 1u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override PAD_TOP: u32 = 0u;
override PAD_LEFT: u32 = 0u;
override DH: u32 = 1u;
override DW: u32 = 1u;
// The projection's stride; its window is 1x1 without padding (torchvision's downsample).
override PSH: u32 = 1u;
override PSW: u32 = 1u;

// The input at pixel row p (where `inside`), channels 4k..4k+3; zero elsewhere.
fn pixel(p: i32, inside: bool, k: u32, inner4: u32) -> vec4f {
  return select(vec4f(0.0), a[u32(max(p, 0)) * inner4 + k], inside);
}

@compute @workgroup_size(WORKGROUP_X, WORKGROUP_Y)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let cols4 = shape.cols / 4u;
  let c = gid.x * 2u; // 8 channels = 2 vec4s
  let r = gid.y * 4u; // 4 output pixels
  if (c >= cols4 || r >= shape.rows) {
    return;
  }
  // Where each of the 4 output pixels sits: image b, row oy, column ox.
  let rv = vec4u(r) + vec4u(0u, 1u, 2u, 3u);
  let plane = shape.out_h * shape.out_w;
  let b = rv / vec4u(plane);
  let rem = rv - b * plane;
  let oy = rem / vec4u(shape.out_w);
  let ox = rem - oy * shape.out_w;
  let live = rv < vec4u(shape.rows);
  let y0 = vec4i(oy * SH) - vec4i(i32(PAD_TOP));
  let x0 = vec4i(ox * SW) - vec4i(i32(PAD_LEFT));
  let image = vec4i(b * shape.in_h);
  let h = vec4i(i32(shape.in_h));
  let w_ = vec4i(i32(shape.in_w));

  let z = vec4f(0.0);
  var t = Tile(z, z, z, z, z, z, z, z);
  let inner4 = shape.inner / 4u;
  for (var ty = 0u; ty < KH; ty++) {
    let iy = y0 + vec4i(i32(ty * DH));
    for (var tx = 0u; tx < KW; tx++) {
      let ix = x0 + vec4i(i32(tx * DW));
      let inside = live & (iy >= vec4i(0)) & (iy < h) & (ix >= vec4i(0)) & (ix < w_);
      let p = (image + iy) * w_ + ix;
      let wtap = (ty * KW + tx) * shape.inner;
      for (var k = 0u; k < inner4; k++) {
        t = accumulate(t, pixel(p.x, inside.x, k, inner4), pixel(p.y, inside.y, k, inner4), pixel(p.z, inside.z, k, inner4),
                       pixel(p.w, inside.w, k, inner4), (wtap + 4u * k) * cols4 + c, cols4);
      }
    }
  }

  if (RESIDUAL == 2u) {
    // Projection shortcut: the block input at its own size, every PSH-th row and PSW-th column.
    let short4 = shape.shortcut_inner / 4u;
    let q = select(vec4u(0u), (b * shape.x_h + oy * PSH) * shape.x_w + ox * PSW, live);
    let base = KH * KW * shape.inner;
    for (var k = 0u; k < short4; k++) {
      t = accumulate(t, select(z, x[q.x * short4 + k], live.x), select(z, x[q.y * short4 + k], live.y),
                     select(z, x[q.z * short4 + k], live.z), select(z, x[q.w * short4 + k], live.w),
                     (base + 4u * k) * cols4 + c, cols4);
    }
  }

  store_tile(t, r, c, cols4);
}
