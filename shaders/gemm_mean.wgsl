// A gemm step with a mean prologue (src/graph/steps.ts, prologue 'mean_pixels'): global average
// pooling and the Linear after it in one dispatch, y = epilogue(mean(a) · w).
//   a  [batch, in_h, in_w, inner]  a channels-last image, as shaders/pool.wgsl reads it: pixel
//      rows of `inner` channels (padded with zeros to the stride)
//   w  [inner, cols]               the transposed weights every GEMM kernel reads (weight4())
//   y  [batch, cols]
// One workgroup per batch row and 64 vec4s of output columns. The channel means go through
// workgroup memory a chunk at a time (any channel count fits), each summed over the pixels in
// order and divided by their count, exactly as the pool kernel computes them; then each
// invocation takes its 4 columns' dot product with that chunk. Every workgroup along x recomputes
// its row's means: cheap beside the GEMM (H·W adds per channel, H·W = 49 in a ResNet's head),
// and it needs no second dispatch or buffer for the pooled value.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

const GROUP: u32 = 64u;
// Means held at once, in vec4s: 1024 channels, 4 KiB of workgroup memory (WebGPU's minimum
// maxComputeWorkgroupStorageSize is 16 KiB).
const CHUNK4: u32 = 256u;
var<workgroup> means: array<vec4f, CHUNK4>;

@compute @workgroup_size(GROUP)
fn main(@builtin(workgroup_id) wid: vec3u, @builtin(local_invocation_index) lid: u32) {
  let cols4 = shape.cols / 4u;
  let inner4 = shape.inner / 4u;
  let b = wid.y;
  let c4 = wid.x * GROUP + lid;
  let pixels = shape.in_h * shape.in_w;
  let first = b * pixels; // the image's first pixel row
  var acc = vec4f(0.0);
  for (var k0 = 0u; k0 < inner4; k0 += CHUNK4) {
    let count = min(CHUNK4, inner4 - k0);
    workgroupBarrier(); // every invocation is done with the previous chunk's means
    for (var k = lid; k < count; k += GROUP) {
      var sum = vec4f(0.0);
      for (var p = 0u; p < pixels; p++) {
        sum += a[(first + p) * inner4 + k0 + k];
      }
      means[k] = sum / f32(pixels);
    }
    workgroupBarrier();
    if (c4 < cols4) {
      for (var k = 0u; k < count; k++) {
        let m = means[k];
        let row = 4u * (k0 + k) * cols4 + c4; // w's row 4(k0 + k), this invocation's columns
        acc += m.x * weight4(row) + m.y * weight4(row + cols4) + m.z * weight4(row + 2u * cols4) + m.w * weight4(row + 3u * cols4);
      }
    }
  }
  if (c4 < cols4) {
    y[b * cols4 + c4] = epilogue(acc, b, c4);
  }
}
