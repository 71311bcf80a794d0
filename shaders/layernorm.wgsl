// A LayerNorm step over each row's out_cols real features: the row's mean, then its biased
// variance from the deviations (separate passes: no cancellation), then
//   y = epilogue((a − mean) / √(var + eps) · gamma)
// Deviations past 1 are scaled by the largest before squaring: a row of values near 1e20 would
// otherwise square past f32's range, and an infinite variance would turn the row into β where
// the float64 reference (and the mathematics) normalizes it.
// with β as the epilogue's bias. One invocation per row: no workgroup memory and no barriers
// (which cost a coroutine switch per barrier on SwiftShader); the row's reads are sequential.
// A row holding an Inf or NaN gives NaN everywhere, as in PyTorch. The epilogue and the
// bindings shape, x and params come from shaders/epilogue.wgsl.

@group(0) @binding(1) var<storage, read> a: array<vec4f>;
@group(0) @binding(3) var<storage, read> gamma: array<vec4f>;
@group(0) @binding(5) var<storage, read_write> y: array<vec4f>;

override EPS: f32 = 1e-5;

@compute @workgroup_size(64)
fn main(@builtin(global_invocation_id) gid: vec3u) {
  let row = gid.x;
  if (row >= shape.rows) {
    return;
  }
  let cols4 = shape.cols / 4u;
  let n = shape.out_cols;
  let base = row * cols4;
  // Padded columns hold exact zeros: they add nothing to the sum, and are masked below.
  var sum = vec4f(0.0);
  for (var c = 0u; c < cols4; c++) {
    sum += a[base + c];
  }
  let mean = (sum.x + sum.y + sum.z + sum.w) / f32(n);
  var largest = vec4f(0.0);
  for (var c = 0u; c < cols4; c++) {
    let col = vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u);
    // max() may drop a NaN; a NaN row is NaN through its mean and deviations anyway.
    largest = max(largest, select(vec4f(0.0), abs(a[base + c] - mean), col < vec4u(n)));
  }
  let m = max(max(largest.x, largest.y), max(largest.z, largest.w));
  let scale = select(1.0, 1.0 / m, m > 1.0);
  var squares = vec4f(0.0);
  for (var c = 0u; c < cols4; c++) {
    let col = vec4u(4u * c) + vec4u(0u, 1u, 2u, 3u);
    let d = select(vec4f(0.0), (a[base + c] - mean) * scale, col < vec4u(n));
    squares += d * d;
  }
  // var = m² · Σ(d/m)² / n; with m > 1, eps / m² cannot underflow to nothing that matters.
  let scaled = (squares.x + squares.y + squares.z + squares.w) / f32(n);
  let rstd = select(1.0 / sqrt(scaled + EPS), 1.0 / (m * sqrt(scaled + EPS / (m * m))), m > 1.0);
  for (var c = 0u; c < cols4; c++) {
    y[base + c] = epilogue((a[base + c] - mean) * rstd * gamma[c], row, c);
  }
}
