// Large batches (workgroup-tiled GEMM): one fused GEMM step, y = epilogue(a · w). Each
// workgroup computes a 64 × 64 output tile, each of its 16 × 16 invocations a 4 × 4 block in
// registers. For every 16-deep slice of the inner dimension the workgroup first stages a 64 × 16
// tile of the left operand and a 16 × 64 tile of w in workgroup memory (one vec4 of each per
// invocation), then every invocation reads its operands from there: each value fetched from
// global memory serves 64 multiply-adds instead of 4.
//
// With a projection shortcut (RESIDUAL == 2) the shortcut GEMM is a second pass over the inner
// dimension. Layouts as in gemm.wgsl (widths padded to 8, rows to 4); tiles at the edges are
// guarded, so no padding to 64 is needed. w and weight4() come from the weight prelude; the
// epilogue and the bindings shape, x and params from shaders/epilogue.wgsl.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

const TILE_ROWS: u32 = 64u;
const TILE_COLS4: u32 = 16u; // 64 columns
const DEPTH: u32 = 16u; // inner steps staged at a time

var<workgroup> left: array<vec4f, 256>; // [64 rows][DEPTH / 4], vec4 along the inner dimension
var<workgroup> right: array<vec4f, 256>; // [DEPTH][16], vec4 along the columns

struct Block {
  r0: vec4f,
  r1: vec4f,
  r2: vec4f,
  r3: vec4f,
}

fn mac(acc: vec4f, s: vec4f, w0: vec4f, w1: vec4f, w2: vec4f, w3: vec4f) -> vec4f {
  return acc + s.x * w0 + s.y * w1 + s.z * w2 + s.w * w3;
}

fn finish(row: u32, c4: u32, cols4: u32, acc: vec4f) {
  if (row < shape.rows) {
    y[row * cols4 + c4] = epilogue(acc, row, c4);
  }
}

@compute @workgroup_size(16, 16)
fn main(@builtin(local_invocation_id) lid: vec3u, @builtin(local_invocation_index) li: u32,
        @builtin(workgroup_id) wg: vec3u) {
  let cols4 = shape.cols / 4u;
  let row0 = wg.y * TILE_ROWS;
  let col40 = wg.x * TILE_COLS4;
  var t = Block(vec4f(0.0), vec4f(0.0), vec4f(0.0), vec4f(0.0));

  // Part 0 multiplies a by w's first `inner` rows; part 1 (projection only) x by the rest.
  let passes = select(1u, 2u, RESIDUAL == 2u);
  for (var part = 0u; part < passes; part++) {
    let depth = select(shape.inner, shape.shortcut_inner, part == 1u);
    let depth4 = depth / 4u;
    let wrow0 = select(0u, shape.inner, part == 1u);
    for (var k0 = 0u; k0 < depth; k0 += DEPTH) {
      // Stage: invocation li loads left[li] (row li / 4, inner vec4 li % 4) and right[li]
      // (inner step li / 16, column group li % 16); zero beyond the edges.
      let lr = row0 + li / 4u;
      let lk = k0 / 4u + li % 4u;
      var lv = vec4f(0.0);
      if (lr < shape.rows && lk < depth4) {
        if (part == 0u) {
          lv = a[lr * depth4 + lk];
        } else {
          lv = x[lr * depth4 + lk];
        }
      }
      left[li] = lv;
      let rk = k0 + li / 16u;
      let rc = col40 + li % 16u;
      var rv = vec4f(0.0);
      if (rk < depth && rc < cols4) {
        rv = weight4((wrow0 + rk) * cols4 + rc);
      }
      right[li] = rv;
      workgroupBarrier();

      for (var q = 0u; q < DEPTH / 4u; q++) {
        let w0 = right[(4u * q) * 16u + lid.x];
        let w1 = right[(4u * q + 1u) * 16u + lid.x];
        let w2 = right[(4u * q + 2u) * 16u + lid.x];
        let w3 = right[(4u * q + 3u) * 16u + lid.x];
        let r = lid.y * 4u;
        t.r0 = mac(t.r0, left[r * 4u + q], w0, w1, w2, w3);
        t.r1 = mac(t.r1, left[(r + 1u) * 4u + q], w0, w1, w2, w3);
        t.r2 = mac(t.r2, left[(r + 2u) * 4u + q], w0, w1, w2, w3);
        t.r3 = mac(t.r3, left[(r + 3u) * 4u + q], w0, w1, w2, w3);
      }
      workgroupBarrier();
    }
  }

  let c4 = col40 + lid.x;
  if (c4 >= cols4) {
    return;
  }
  let r = row0 + lid.y * 4u;
  finish(r, c4, cols4, t.r0);
  finish(r + 1u, c4, cols4, t.r1);
  finish(r + 2u, c4, cols4, t.r2);
  finish(r + 3u, c4, cols4, t.r3);
}
