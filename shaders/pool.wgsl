// A pooling step: y = epilogue(pool(a)), maximum or mean over each window of a channels-last
// image (a: [batch, in_h, in_w, cols], y: [batch, out_h, out_w, cols]; the channels are the same
// in and out). One invocation per output pixel and 4 channels. The epilogue and the bindings
// shape, x and params come from shaders/epilogue.wgsl (a following activation joins it).
//   POOL 0: max pooling (padding never wins; a NaN in the window gives NaN, as PyTorch's)
//   POOL 1: average pooling, ATen's divisor (count_include_pad: the window clipped to the padded
//           input; else the input pixels in it)
//   POOL 2: global average pooling to 1x1

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

override POOL: u32 = 0u;
override KH: u32 = 1u;
override KW: u32 = 1u;
override SH: u32 = 1u;
override SW: u32 = 1u;
override PH: u32 = 0u;
override PW: u32 = 0u;
override DH: u32 = 1u;
override DW: u32 = 1u;
override COUNT_PAD: bool = true;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let cols4 = shape.cols / 4u;
  let c4 = gid.x;
  let r = gid.y;
  if (c4 >= cols4 || r >= shape.rows) {
    return;
  }
  let plane = shape.out_h * shape.out_w;
  let b = r / plane;
  let oy = (r - b * plane) / shape.out_w;
  let ox = r - b * plane - oy * shape.out_w;
  let first = b * shape.in_h * shape.in_w; // the image's first pixel row
  let h = i32(shape.in_h);
  let w_ = i32(shape.in_w);
  var acc = vec4f(0.0);
  if (POOL == 2u) {
    let n = shape.in_h * shape.in_w;
    for (var p = 0u; p < n; p++) {
      acc += a[(first + p) * cols4 + c4];
    }
    acc = acc / f32(n);
  } else if (POOL == 0u) {
    // The first pixel of the window starts the maximum (a -inf constant is not valid WGSL).
    var m = vec4f(0.0);
    var first_tap = true;
    for (var ty = 0u; ty < KH; ty++) {
      let iy = i32(oy * SH + ty * DH) - i32(PH);
      for (var tx = 0u; tx < KW; tx++) {
        let ix = i32(ox * SW + tx * DW) - i32(PW);
        if (iy >= 0 && iy < h && ix >= 0 && ix < w_) {
          let v = a[(first + u32(iy * w_ + ix)) * cols4 + c4];
          // ATen's test: a NaN replaces the maximum, and nothing then beats it.
          m = select(m, v, vec4<bool>(first_tap) | (v > m) | is_nan4(v));
          first_tap = false;
        }
      }
    }
    acc = m;
  } else {
    let y0 = i32(oy * SH) - i32(PH);
    let x0 = i32(ox * SW) - i32(PW);
    let y1 = min(y0 + i32(KH), h + i32(PH));
    let x1 = min(x0 + i32(KW), w_ + i32(PW));
    let top = max(y0, 0);
    let left = max(x0, 0);
    let bottom = min(y1, h);
    let right = min(x1, w_);
    for (var iy = top; iy < bottom; iy++) {
      for (var ix = left; ix < right; ix++) {
        acc += a[(first + u32(iy * w_ + ix)) * cols4 + c4];
      }
    }
    let count = select((bottom - top) * (right - left), (y1 - y0) * (x1 - x0), COUNT_PAD);
    acc = acc / f32(max(count, 1));
  }
  y[r * cols4 + c4] = epilogue(acc, r, c4);
}
