// The 4 x 8 register tile of the gemm and conv kernels: 4 rows (batch rows, or output pixels)
// by 8 columns (output features or channels), in eight named vec4f registers (row i, low and
// high half). Named registers, not an indexed array: compilers keep them in registers, while an
// indexed local array can spill (10x slower on SwiftShader). weight4() comes from the weight
// prelude (shaders/weights_f32.wgsl or weights_f16.wgsl); epilogue() from shaders/epilogue.wgsl;
// y, the output as vec4s, is each kernel's own binding.

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

// The tile through the epilogue into y: rows r..r+3, vec4 columns c and c+1 of cols4.
fn store_tile(t: Tile, r: u32, c: u32, cols4: u32) {
  y[r * cols4 + c] = epilogue(t.r0l, r, c);
  y[r * cols4 + c + 1u] = epilogue(t.r0h, r, c + 1u);
  y[(r + 1u) * cols4 + c] = epilogue(t.r1l, r + 1u, c);
  y[(r + 1u) * cols4 + c + 1u] = epilogue(t.r1h, r + 1u, c + 1u);
  y[(r + 2u) * cols4 + c] = epilogue(t.r2l, r + 2u, c);
  y[(r + 2u) * cols4 + c + 1u] = epilogue(t.r2h, r + 2u, c + 1u);
  y[(r + 3u) * cols4 + c] = epilogue(t.r3l, r + 3u, c);
  y[(r + 3u) * cols4 + c + 1u] = epilogue(t.r3h, r + 3u, c + 1u);
}
