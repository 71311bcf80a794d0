// An elementwise step: y = epilogue(a), for a BatchNorm, add or activation that no GEMM or
// LayerNorm step absorbs (src/graph/fuse.ts): a standalone BatchNorm is the epilogue's scale and
// shift (AFFINE), an add its identity residual, an activation its ACT. The epilogue and the
// bindings shape, x and params come from shaders/epilogue.wgsl. One invocation per row and
// 4 columns; a and y are [rows, cols].

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

@compute @workgroup_size(8, 8)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let cols4 = shape.cols / 4u;
  let c4 = gid.x;
  let row = gid.y;
  if (c4 >= cols4 || row >= shape.rows) {
    return;
  }
  y[row * cols4 + c4] = epilogue(a[row * cols4 + c4], row, c4);
}
