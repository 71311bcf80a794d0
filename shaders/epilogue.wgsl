// The epilogue every kernel shares (src/graph/steps.ts), and the bindings and uniform struct it
// reads. A kernel computes `acc` for 4 columns of a row and stores epilogue(acc, row, c4):
//
//   v = acc + bias                       params[c4]
//   v = v + x[row, c4]                   RESIDUAL == 1 (identity residual)
//   v = v * scale + shift                AFFINE (a BatchNorm after an add): params[cols4 + c4], params[2 cols4 + c4]
//   y = activation(v)                    ACT, SLOPE
//
// Columns past out_cols (the step's real width) are written as exact zeros: computed, they
// would be sum(a * 0) + 0, NaN for a row holding an Inf, and that NaN would reach every output
// of the next layer through its padded inner dimension, where PyTorch has none.
// Every activation keeps PyTorch's NaN and ±Inf results (gelu(-inf) and silu(-inf) are NaN
// there too: -inf * 0).

struct Shape {
  rows: u32,
  cols: u32,           // y's row stride in floats (the padded width)
  inner: u32,          // a's row stride: the GEMM's inner size (LayerNorm: the padded width)
  shortcut_inner: u32, // RESIDUAL == 2: x's row stride, the projection's inner size
  out_cols: u32,       // the real width
}

@group(0) @binding(0) var<uniform> shape: Shape;
@group(0) @binding(2) var<storage, read> x: array<vec4f>;
@group(0) @binding(4) var<storage, read> params: array<vec4f>;

// 0: none; 1: identity (add x); 2: projection (x is the GEMM's second left operand).
override RESIDUAL: u32 = 0u;
override AFFINE: bool = false;
// 0 none, 1 relu, 2 leaky_relu (SLOPE), 3 gelu (erf), 4 gelu (tanh), 5 silu, 6 sigmoid, 7 tanh.
override ACT: u32 = 0u;
override SLOPE: f32 = 0.0;

// erf by Abramowitz & Stegun 7.1.26: |error| <= 1.5e-7 in exact arithmetic; with f32 rounding
// and exp the measured maximum against float64 is stated in test/activations.node.test.ts.
// erf(±inf) = ±1, erf(NaN) = NaN.
fn erf4(z: vec4f) -> vec4f {
  let a = abs(z);
  let t = 1.0 / (1.0 + 0.3275911 * a);
  let p = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return sign(z) * (1.0 - p * exp(-a * a));
}

// NaN, tested on the bits: WGSL lets compilers assume floats are never NaN, and SwiftShader
// folds z != z to false.
fn is_nan4(z: vec4f) -> vec4<bool> {
  return (bitcast<vec4u>(z) & vec4u(0x7fffffffu)) > vec4u(0x7f800000u);
}

// WGSL's tanh may overflow inside (e^2x) to NaN for large |x|: |x| >= 15 is ±1 in f32 anyway.
fn tanh4(z: vec4f) -> vec4f {
  return tanh(clamp(z, vec4f(-15.0), vec4f(15.0)));
}

// NaN in, NaN out, whatever the built-ins (exp, clamp) do with it.
fn activate(v: vec4f) -> vec4f {
  return select(activate_finite(v), v, is_nan4(v));
}

fn activate_finite(v: vec4f) -> vec4f {
  if (ACT == 1u) {
    // WGSL's max(NaN, 0) may return either operand; a compare keeps NaN (NaN < 0 is false).
    return select(v, vec4f(0.0), v < vec4f(0.0));
  }
  if (ACT == 2u) {
    return select(v, v * SLOPE, v < vec4f(0.0));
  }
  if (ACT == 3u) {
    return 0.5 * v * (1.0 + erf4(v * 0.70710678118654752));
  }
  if (ACT == 4u) {
    return 0.5 * v * (1.0 + tanh4(0.79788456080286536 * (v + 0.044715 * v * v * v)));
  }
  if (ACT == 5u) {
    return v / (1.0 + exp(-v));
  }
  if (ACT == 6u) {
    return 1.0 / (1.0 + exp(-v));
  }
  if (ACT == 7u) {
    return tanh4(v);
  }
  return v;
}

fn epilogue(acc: vec4f, row: u32, c4: u32) -> vec4f {
  let cols4 = shape.cols / 4u;
  var v = acc + params[c4];
  if (RESIDUAL == 1u) {
    v += x[row * cols4 + c4];
  }
  if (AFFINE) {
    v = v * params[cols4 + c4] + params[2u * cols4 + c4];
  }
  v = activate(v);
  let col = vec4u(4u * c4) + vec4u(0u, 1u, 2u, 3u);
  return select(vec4f(0.0), v, col < vec4u(shape.out_cols));
}
