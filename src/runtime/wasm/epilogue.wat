;; The epilogue every step kind ends with (src/graph/steps.ts), on 8 columns of one row, and the
;; vector math its activations need. Part of gemm.wat's module (spliced in where gemm.wat says
;; (include "epilogue.wat"), tools/vite-plugin-wat.mjs).
;;
;; The math is plain f32x4.mul and f32x4.add, never relaxed_madd: every engine then rounds it
;; alike, so the error bounds below (measured by test/wasm-math.node.test.ts against float64,
;; over every multiple of 1e-4 in [-10, 10] and the extremes) hold on every build variant.
;; Coefficients are Chebyshev fits made for this file (float64 fit, rounded to f32, the error
;; then measured in f32 arithmetic).

  ;; The math's constants are immutable v128 globals rather than v128.const in the code: V8 builds
  ;; each v128.const in registers with three instructions at every use, while a global is one load;
  ;; erf, with 25 constants, ran 30 % faster so (2.8 → 2.0 ns a value, bench of vector_math).
  (global $one v128 (v128.const f32x4 1 1 1 1))
  (global $two v128 (v128.const f32x4 2 2 2 2))
  (global $half v128 (v128.const f32x4 0.5 0.5 0.5 0.5))
  (global $sign_bit v128 (v128.const i32x4 0x80000000 0x80000000 0x80000000 0x80000000))
  (global $exponent_bias v128 (v128.const i32x4 127 127 127 127))
  (global $exp_max_x v128 (v128.const f32x4 89 89 89 89))
  (global $exp_min_x v128 (v128.const f32x4 -104 -104 -104 -104))
  (global $log2e v128 (v128.const f32x4 1.442695 1.442695 1.442695 1.442695))
  (global $ln2_hi v128 (v128.const f32x4 0.693359375 0.693359375 0.693359375 0.693359375))
  (global $ln2_lo v128 (v128.const f32x4 -0.00021219444 -0.00021219444 -0.00021219444 -0.00021219444))
  ;; e^r = 1 + r + r²·Q(r) on |r| ≤ ln2/2: Q's coefficients, constant term first.
  (global $exp_q0 v128 (v128.const f32x4 0.5 0.5 0.5 0.5))
  (global $exp_q1 v128 (v128.const f32x4 0.16666667 0.16666667 0.16666667 0.16666667))
  (global $exp_q2 v128 (v128.const f32x4 0.041665778 0.041665778 0.041665778 0.041665778))
  (global $exp_q3 v128 (v128.const f32x4 0.0083333 0.0083333 0.0083333 0.0083333))
  (global $exp_q4 v128 (v128.const f32x4 0.0013978953 0.0013978953 0.0013978953 0.0013978953))
  (global $exp_q5 v128 (v128.const f32x4 0.00019898734 0.00019898734 0.00019898734 0.00019898734))
  ;; erf = a + a·A(a²) below 1 and 1 − B(a − 2.25) from 1 to 3.919206: A's and B's coefficients, constant term first.
  (global $erf_a0 v128 (v128.const f32x4 0.12837917 0.12837917 0.12837917 0.12837917))
  (global $erf_a1 v128 (v128.const f32x4 -0.37612626 -0.37612626 -0.37612626 -0.37612626))
  (global $erf_a2 v128 (v128.const f32x4 0.11283597 0.11283597 0.11283597 0.11283597))
  (global $erf_a3 v128 (v128.const f32x4 -0.026854325 -0.026854325 -0.026854325 -0.026854325))
  (global $erf_a4 v128 (v128.const f32x4 0.0051893033 0.0051893033 0.0051893033 0.0051893033))
  (global $erf_a5 v128 (v128.const f32x4 -0.00080187665 -0.00080187665 -0.00080187665 -0.00080187665))
  (global $erf_a6 v128 (v128.const f32x4 7.882171e-05 7.882171e-05 7.882171e-05 7.882171e-05))
  (global $erf_b0 v128 (v128.const f32x4 0.0014627196 0.0014627196 0.0014627196 0.0014627196))
  (global $erf_b1 v128 (v128.const f32x4 -0.007142602 -0.007142602 -0.007142602 -0.007142602))
  (global $erf_b2 v128 (v128.const f32x4 0.016070116 0.016070116 0.016070116 0.016070116))
  (global $erf_b3 v128 (v128.const f32x4 -0.021720039 -0.021720039 -0.021720039 -0.021720039))
  (global $erf_b4 v128 (v128.const f32x4 0.019083297 0.019083297 0.019083297 0.019083297))
  (global $erf_b5 v128 (v128.const f32x4 -0.010678449 -0.010678449 -0.010678449 -0.010678449))
  (global $erf_b6 v128 (v128.const f32x4 0.00290906 0.00290906 0.00290906 0.00290906))
  (global $erf_b7 v128 (v128.const f32x4 0.00071161316 0.00071161316 0.00071161316 0.00071161316))
  (global $erf_b8 v128 (v128.const f32x4 -0.0010156352 -0.0010156352 -0.0010156352 -0.0010156352))
  (global $erf_b9 v128 (v128.const f32x4 0.00033017583 0.00033017583 0.00033017583 0.00033017583))
  (global $erf_b10 v128 (v128.const f32x4 3.335728e-05 3.335728e-05 3.335728e-05 3.335728e-05))
  (global $erf_b11 v128 (v128.const f32x4 -4.846814e-05 -4.846814e-05 -4.846814e-05 -4.846814e-05))
  (global $erf_b12 v128 (v128.const f32x4 9.169941e-06 9.169941e-06 9.169941e-06 9.169941e-06))
  (global $erf_b_center v128 (v128.const f32x4 2.25 2.25 2.25 2.25))
  (global $erf_one_from v128 (v128.const f32x4 3.919206 3.919206 3.919206 3.919206))
  ;; tanh = a + a·u·P(u), u = a², below 0.625: P's coefficients, constant term first.
  (global $tanh_p0 v128 (v128.const f32x4 -0.33333328 -0.33333328 -0.33333328 -0.33333328))
  (global $tanh_p1 v128 (v128.const f32x4 0.13332762 0.13332762 0.13332762 0.13332762))
  (global $tanh_p2 v128 (v128.const f32x4 -0.053849407 -0.053849407 -0.053849407 -0.053849407))
  (global $tanh_p3 v128 (v128.const f32x4 0.020988926 0.020988926 0.020988926 0.020988926))
  (global $tanh_p4 v128 (v128.const f32x4 -0.0060835234 -0.0060835234 -0.0060835234 -0.0060835234))
  (global $tanh_small_below v128 (v128.const f32x4 0.625 0.625 0.625 0.625))
  ;; GELU: 1/√2; the tanh form's −2·√(2/π) and −2·√(2/π)·0.044715.
  (global $sqrt1_2 v128 (v128.const f32x4 0.70710677 0.70710677 0.70710677 0.70710677))
  (global $gelu_tanh_c1 v128 (v128.const f32x4 -1.5957692 -1.5957692 -1.5957692 -1.5957692))
  (global $gelu_tanh_c3 v128 (v128.const f32x4 -0.071354814 -0.071354814 -0.071354814 -0.071354814))

  ;; exp(x), 0.97 ulp at most where the result is a normal float (1 ulp is 2^(e-23) for a result in
  ;; [2^e, 2^(e+1))). x = n·ln2 + r, |r| ≤ ln2/2 (ln2 in two parts, Cody-Waite: n·LN2_HI is exact);
  ;; e^r = 1 + r + r²·Q(r), Q of degree 5; then 2^n as two factors 2^(n>>1) · 2^(n - n>>1), each a
  ;; normal float, so results near overflow (inf past 88.72) and in the subnormal range (0 below
  ;; -103.97) are rounded once, by the last product. x is clamped to [-104, 89] first with pmin/pmax
  ;; (one instruction each, and they return x itself when x is NaN: NaN in, NaN out).
  (func $exp (param $x v128) (result v128)
    (local $n v128) (local $r v128) (local $p v128) (local $i v128) (local $i1 v128)
    (local.set $x (f32x4.pmax (f32x4.pmin (local.get $x) (global.get $exp_max_x)) (global.get $exp_min_x)))
    (local.set $n (f32x4.nearest (f32x4.mul (local.get $x) (global.get $log2e))))
    (local.set $r (f32x4.sub (local.get $x) (f32x4.mul (local.get $n) (global.get $ln2_hi))))
    (local.set $r (f32x4.sub (local.get $r) (f32x4.mul (local.get $n) (global.get $ln2_lo))))
    (local.set $p (global.get $exp_q5))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (global.get $exp_q4)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (global.get $exp_q3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (global.get $exp_q2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (global.get $exp_q1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $r)) (global.get $exp_q0)))
    (local.set $p (f32x4.add (f32x4.add (f32x4.mul (local.get $p) (f32x4.mul (local.get $r) (local.get $r))) (local.get $r)) (global.get $one)))
    (local.set $i (i32x4.trunc_sat_f32x4_s (local.get $n)))
    (local.set $i1 (i32x4.shr_s (local.get $i) (i32.const 1)))
    (f32x4.mul
      (f32x4.mul (local.get $p) (i32x4.shl (i32x4.add (local.get $i1) (global.get $exponent_bias)) (i32.const 23)))
      (i32x4.shl (i32x4.add (i32x4.sub (local.get $i) (local.get $i1)) (global.get $exponent_bias)) (i32.const 23))))

  ;; erf(x), 8.2e-8 absolute error at most (1.4 ulp). On a = |x|: below 1, a + a·A(a²) (A of
  ;; degree 6; adding a last keeps the rounding of the small terms small); from 1, 1 − B(a − 2.25)
  ;; (B of degree 12, erfc's fit on [1, 3.919206]); from 3.919206, where erf rounds to 1 in f32,
  ;; exactly 1. The sign of x is put back last (erf(−0) = −0; NaN stays NaN: every compare is false).
  (func $erf (param $x v128) (result v128)
    (local $a v128) (local $u v128) (local $s v128) (local $p v128) (local $q v128)
    (local.set $a (f32x4.abs (local.get $x)))
    (local.set $u (f32x4.mul (local.get $a) (local.get $a)))
    (local.set $p (global.get $erf_a6))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $erf_a5)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $erf_a4)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $erf_a3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $erf_a2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $erf_a1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $erf_a0)))
    (local.set $p (f32x4.add (local.get $a) (f32x4.mul (local.get $a) (local.get $p))))
    (local.set $s (f32x4.sub (f32x4.pmin (local.get $a) (global.get $erf_one_from)) (global.get $erf_b_center)))
    (local.set $q (global.get $erf_b12))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b11)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b10)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b9)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b8)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b7)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b6)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b5)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b4)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b3)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b2)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b1)))
    (local.set $q (f32x4.add (f32x4.mul (local.get $q) (local.get $s)) (global.get $erf_b0)))
    (local.set $q (f32x4.sub (global.get $one) (local.get $q)))
    (local.set $p (v128.bitselect (local.get $p) (local.get $q) (f32x4.lt (local.get $a) (global.get $one))))
    (local.set $p (v128.bitselect (global.get $one) (local.get $p) (f32x4.ge (local.get $a) (global.get $erf_one_from))))
    (v128.or (local.get $p) (v128.and (local.get $x) (global.get $sign_bit))))

  ;; tanh(x), 1.2 ulp and 7.2e-8 absolute error at most. On a = |x|: below 0.625, a + a·u·P(u),
  ;; u = a² (P of degree 4); from there 1 − 2/(e^(2a) + 1), which has no cancellation there and
  ;; gives 1 for large a and +inf (2/inf = 0). The sign of x is put back last: tanh(±0) = ±0,
  ;; tanh(±inf) = ±1, and a subnormal x keeps its value; NaN stays NaN (e^NaN = NaN).
  (func $tanh (param $x v128) (result v128)
    (local $a v128) (local $u v128) (local $p v128) (local $big v128)
    (local.set $a (f32x4.abs (local.get $x)))
    (local.set $u (f32x4.mul (local.get $a) (local.get $a)))
    (local.set $p (global.get $tanh_p4))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $tanh_p3)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $tanh_p2)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $tanh_p1)))
    (local.set $p (f32x4.add (f32x4.mul (local.get $p) (local.get $u)) (global.get $tanh_p0)))
    (local.set $p (f32x4.add (local.get $a) (f32x4.mul (local.get $a) (f32x4.mul (local.get $u) (local.get $p)))))
    (local.set $big (f32x4.sub (global.get $one)
      (f32x4.div (global.get $two) (f32x4.add (call $exp (f32x4.add (local.get $a) (local.get $a))) (global.get $one)))))
    (local.set $p (v128.bitselect (local.get $p) (local.get $big) (f32x4.lt (local.get $a) (global.get $tanh_small_below))))
    (v128.or (local.get $p) (v128.and (local.get $x) (global.get $sign_bit))))

  ;; num / (1 + e^z): sigmoid (num 1, z = −v), SiLU (v, −v) and the tanh-approximated GELU
  ;; (v, −2·√(2/π)·(v + 0.044715·v³)), the last being 0.5·v·(1 + tanh(w)) = v / (1 + e^(−2w)) with
  ;; no cancellation for negative v. The limits come out as PyTorch's: e^z = inf gives num/inf
  ;; (sigmoid(−inf) = 0, SiLU(−100) = −0, and −inf/inf = NaN: SiLU(−inf) = GELU-tanh(−inf) = NaN, as
  ;; PyTorch 1.13 returns); e^z = 0 gives num (sigmoid(inf) = 1, SiLU(inf) = inf).
  (func $over_one_plus_exp (param $num v128) (param $z v128) (result v128)
    (f32x4.div (local.get $num) (f32x4.add (call $exp (local.get $z)) (global.get $one))))

  ;; The activation numbered `fn` (steps.ts's order: 0 none, 1 relu, 2 leaky_relu, 3 gelu,
  ;; 4 gelu_tanh, 5 silu, 6 sigmoid, 7 tanh) on 4 values; one branch per call, never per element.
  (func $activate (param $fn i32) (param $slope f32) (param $v v128) (result v128)
    (local $h v128)
    (block $tanh (block $sigmoid (block $silu (block $gelu_tanh (block $gelu (block $leaky_relu (block $relu (block $none
      (br_table $none $relu $leaky_relu $gelu $gelu_tanh $silu $sigmoid $tanh $none (local.get $fn)))
      (return (local.get $v)))
      ;; v < 0 ? 0 : v. NaN < 0 is false: ReLU(NaN) = NaN, and ReLU(−0) = −0, as PyTorch.
      (return (v128.andnot (local.get $v) (f32x4.lt (local.get $v) (v128.const f32x4 0 0 0 0)))))
      ;; v < 0 ? slope·v : v (NaN stays NaN, −inf stays −inf).
      (return (v128.bitselect (f32x4.mul (local.get $v) (f32x4.splat (local.get $slope))) (local.get $v)
        (f32x4.lt (local.get $v) (v128.const f32x4 0 0 0 0)))))
      ;; h + h·erf(v/√2), h = v/2, the sum PyTorch's vectorized CPU kernel rounds: GELU(−100) = +0
      ;; (−50 + 50), GELU(−inf) = −inf + inf = NaN, GELU(inf) = inf.
      (local.set $h (f32x4.mul (local.get $v) (global.get $half)))
      (return (f32x4.add (local.get $h) (f32x4.mul (local.get $h)
        (call $erf (f32x4.mul (local.get $v) (global.get $sqrt1_2)))))))
      (return (call $over_one_plus_exp (local.get $v)
        (f32x4.mul (local.get $v) (f32x4.add (global.get $gelu_tanh_c1)
          (f32x4.mul (f32x4.mul (local.get $v) (local.get $v)) (global.get $gelu_tanh_c3)))))))
      (return (call $over_one_plus_exp (local.get $v) (f32x4.neg (local.get $v)))))
      (return (call $over_one_plus_exp (global.get $one) (f32x4.neg (local.get $v)))))
    (call $tanh (local.get $v)))

  ;; The epilogue of 8 columns of one row, v = acc + bias already in c0, c1 (a GEMM starts its
  ;; accumulators at the bias): + the identity residual at x, · scale + shift (the panel's
  ;; epilogue vectors at e: bias, scale, shift, 8 floats each), the activation, stored at out.
  ;; The descriptor d says which (its mode word and slope); the branches are per call.
  (func $epilogue (param $d i32) (param $x i32) (param $e i32) (param $c0 v128) (param $c1 v128) (param $out i32)
    (local $mode i32)
    (local.set $mode (i32.load offset=56 (local.get $d)))
    (if (i32.and (local.get $mode) (i32.const 16))
      (then
        (local.set $c0 (f32x4.add (local.get $c0) (v128.load (local.get $x))))
        (local.set $c1 (f32x4.add (local.get $c1) (v128.load offset=16 (local.get $x))))))
    (if (i32.and (local.get $mode) (i32.const 32))
      (then
        (local.set $c0 (f32x4.add (f32x4.mul (local.get $c0) (v128.load offset=32 (local.get $e))) (v128.load offset=64 (local.get $e))))
        (local.set $c1 (f32x4.add (f32x4.mul (local.get $c1) (v128.load offset=48 (local.get $e))) (v128.load offset=80 (local.get $e))))))
    (local.set $mode (i32.and (local.get $mode) (i32.const 15)))
    ;; ReLU, the common case, inline (as in $activate); the others through $activate.
    (if (i32.eq (local.get $mode) (i32.const 1))
      (then
        (local.set $c0 (v128.andnot (local.get $c0) (f32x4.lt (local.get $c0) (v128.const f32x4 0 0 0 0))))
        (local.set $c1 (v128.andnot (local.get $c1) (f32x4.lt (local.get $c1) (v128.const f32x4 0 0 0 0)))))
      (else (if (local.get $mode)
        (then
          (local.set $c0 (call $activate (local.get $mode) (f32.load offset=60 (local.get $d)) (local.get $c0)))
          (local.set $c1 (call $activate (local.get $mode) (f32.load offset=60 (local.get $d)) (local.get $c1)))))))
    (v128.store (local.get $out) (local.get $c0))
    (v128.store offset=16 (local.get $out) (local.get $c1)))

  ;; For tests and benchmarks: exp (fn 0), erf (1) or tanh (2) of `count` floats (a multiple of 4) at src, to dst.
  (func (export "vector_math") (param $fn i32) (param $src i32) (param $dst i32) (param $count i32)
    (local $end i32) (local $v v128)
    (local.set $end (i32.add (local.get $src) (i32.shl (local.get $count) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $src) (local.get $end)))
        (local.set $v (v128.load (local.get $src)))
        (v128.store (local.get $dst)
          (if (result v128) (i32.eqz (local.get $fn)) (then (call $exp (local.get $v)))
            (else (if (result v128) (i32.eq (local.get $fn) (i32.const 1)) (then (call $erf (local.get $v))) (else (call $tanh (local.get $v)))))))
        (local.set $src (i32.add (local.get $src) (i32.const 16)))
        (local.set $dst (i32.add (local.get $dst) (i32.const 16)))
        (br $next))))
