;; The step kinds that read one row at a time (src/graph/steps.ts): layernorm and elementwise.
;; Part of gemm.wat's module (spliced in where gemm.wat says (include "rows.wat")). Each
;; computes rows [r0, r1) × panels [p0, p1) of its output, as $step gives it.

  ;; Sum of the k floats at p: two f32x4 partial sums (8 lanes), then the rest one by one. Eight
  ;; lanes also cut the rounding error of a long sum by about eight.
  (func $row_sum (param $p i32) (param $k i32) (result f32)
    (local $end i32) (local $s0 v128) (local $s1 v128) (local $sum f32)
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $k) (i32.const -8)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $s0 (f32x4.add (local.get $s0) (v128.load (local.get $p))))
        (local.set $s1 (f32x4.add (local.get $s1) (v128.load offset=16 (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next)))
    (local.set $s0 (f32x4.add (local.get $s0) (local.get $s1)))
    (local.set $sum (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
      (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $k) (i32.const 7)) (i32.const 2))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $sum (f32.add (local.get $sum) (f32.load (local.get $p))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $tail)))
    (local.get $sum))

  ;; Sum of (x − mean)² over the k floats at p, in the same order as $row_sum.
  (func $row_squares (param $p i32) (param $k i32) (param $mean f32) (result f32)
    (local $end i32) (local $m v128) (local $d v128) (local $s0 v128) (local $s1 v128) (local $sum f32) (local $t f32)
    (local.set $m (f32x4.splat (local.get $mean)))
    (local.set $end (i32.add (local.get $p) (i32.shl (i32.and (local.get $k) (i32.const -8)) (i32.const 2))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $d (f32x4.sub (v128.load (local.get $p)) (local.get $m)))
        (local.set $s0 (f32x4.add (local.get $s0) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $d (f32x4.sub (v128.load offset=16 (local.get $p)) (local.get $m)))
        (local.set $s1 (f32x4.add (local.get $s1) (f32x4.mul (local.get $d) (local.get $d))))
        (local.set $p (i32.add (local.get $p) (i32.const 32)))
        (br $next)))
    (local.set $s0 (f32x4.add (local.get $s0) (local.get $s1)))
    (local.set $sum (f32.add
      (f32.add (f32x4.extract_lane 0 (local.get $s0)) (f32x4.extract_lane 1 (local.get $s0)))
      (f32.add (f32x4.extract_lane 2 (local.get $s0)) (f32x4.extract_lane 3 (local.get $s0)))))
    (local.set $end (i32.add (local.get $end) (i32.shl (i32.and (local.get $k) (i32.const 7)) (i32.const 2))))
    (block $tail_done
      (loop $tail
        (br_if $tail_done (i32.ge_u (local.get $p) (local.get $end)))
        (local.set $t (f32.sub (f32.load (local.get $p)) (local.get $mean)))
        (local.set $sum (f32.add (local.get $sum) (f32.mul (local.get $t) (local.get $t))))
        (local.set $p (i32.add (local.get $p) (i32.const 4)))
        (br $tail)))
    (local.get $sum))

  ;; LayerNorm over the row's k real features (descriptor field k1), two passes for accuracy:
  ;; the mean, then the biased variance of the deviations; 1/√(var + eps) with f32 sqrt and
  ;; division; then (x − mean) · rstd · γ + β (γ at w, β as the bias) and the epilogue. A row
  ;; holding ±inf or NaN gets a NaN mean or variance, so every column of it is NaN, as in PyTorch.
  ;; Columns past k in the last panel compute whatever the padding holds; $step zeroes them. The
  ;; normalization is written inline: a call per 4 columns cost a third of the step's time
  ;; (bench/gemm-kernel.mjs --rows: 7.7 GB/s with it, 12.1 without, 1024 features).
  (func $layernorm_rows (param $d i32) (param $r0 i32) (param $r1 i32) (param $p0 i32) (param $p1 i32)
    (local $k i32) (local $row i32) (local $xrow i32) (local $orow i32) (local $p i32) (local $col i32) (local $e i32)
    (local $g i32) (local $ep i32) (local $xp i32) (local $gp i32) (local $mean f32) (local $rstd f32) (local $m v128) (local $s v128)
    (local.set $k (i32.load offset=20 (local.get $d)))
    (local.set $e (i32.load offset=40 (local.get $d)))
    (local.set $g (i32.load offset=36 (local.get $d)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r0) (local.get $r1)))
        (local.set $row (i32.add (i32.load offset=12 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=16 (local.get $d)))))
        (local.set $xrow (i32.add (i32.load offset=24 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=28 (local.get $d)))))
        (local.set $orow (i32.add (i32.load offset=44 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=48 (local.get $d)))))
        (local.set $mean (f32.div (call $row_sum (local.get $row) (local.get $k)) (f32.convert_i32_u (local.get $k))))
        (local.set $rstd (f32.div (f32.const 1) (f32.sqrt (f32.add
          (f32.div (call $row_squares (local.get $row) (local.get $k) (local.get $mean)) (f32.convert_i32_u (local.get $k)))
          (f32.load offset=68 (local.get $d))))))
        (local.set $m (f32x4.splat (local.get $mean)))
        (local.set $s (f32x4.splat (local.get $rstd)))
        (local.set $p (local.get $p0))
        (block $panels_done
          (loop $panels
            (br_if $panels_done (i32.ge_u (local.get $p) (local.get $p1)))
            (local.set $col (i32.shl (local.get $p) (i32.const 5)))
            (local.set $ep (i32.add (local.get $e) (i32.mul (local.get $p) (i32.const 96))))
            (local.set $xp (i32.add (local.get $row) (local.get $col)))
            (local.set $gp (i32.add (local.get $g) (local.get $col)))
            (call $epilogue (local.get $d) (i32.add (local.get $xrow) (local.get $col)) (local.get $ep)
              (f32x4.add (f32x4.mul (f32x4.mul (f32x4.sub (v128.load (local.get $xp)) (local.get $m)) (local.get $s)) (v128.load (local.get $gp)))
                (v128.load (local.get $ep)))
              (f32x4.add (f32x4.mul (f32x4.mul (f32x4.sub (v128.load offset=16 (local.get $xp)) (local.get $m)) (local.get $s)) (v128.load offset=16 (local.get $gp)))
                (v128.load offset=16 (local.get $ep)))
              (i32.add (local.get $orow) (local.get $col)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panels)))
        (local.set $r0 (i32.add (local.get $r0) (i32.const 1)))
        (br $rows))))

  ;; acc = the input (at a), + bias, then the epilogue: a residual add, an unfolded BatchNorm, an
  ;; activation on its own.
  (func $elementwise_rows (param $d i32) (param $r0 i32) (param $r1 i32) (param $p0 i32) (param $p1 i32)
    (local $row i32) (local $xrow i32) (local $orow i32) (local $p i32) (local $col i32) (local $e i32)
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r0) (local.get $r1)))
        (local.set $row (i32.add (i32.load offset=12 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=16 (local.get $d)))))
        (local.set $xrow (i32.add (i32.load offset=24 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=28 (local.get $d)))))
        (local.set $orow (i32.add (i32.load offset=44 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=48 (local.get $d)))))
        (local.set $p (local.get $p0))
        (block $panels_done
          (loop $panels
            (br_if $panels_done (i32.ge_u (local.get $p) (local.get $p1)))
            (local.set $col (i32.shl (local.get $p) (i32.const 5)))
            (local.set $e (i32.add (i32.load offset=40 (local.get $d)) (i32.mul (local.get $p) (i32.const 96))))
            (call $epilogue (local.get $d) (i32.add (local.get $xrow) (local.get $col)) (local.get $e)
              (f32x4.add (v128.load (i32.add (local.get $row) (local.get $col))) (v128.load (local.get $e)))
              (f32x4.add (v128.load offset=16 (i32.add (local.get $row) (local.get $col))) (v128.load offset=16 (local.get $e)))
              (i32.add (local.get $orow) (local.get $col)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panels)))
        (local.set $r0 (i32.add (local.get $r0) (i32.const 1)))
        (br $rows))))

  ;; Columns n … 8·panels of rows [r0, r1) of the step's output as exact zeros (steps.ts): the
  ;; last panel computed them from padding, which may hold anything (a buffer's earlier value).
  (func $zero_tail (param $d i32) (param $r0 i32) (param $r1 i32)
    (local $n i32) (local $end i32) (local $row i32) (local $c i32)
    (local.set $n (i32.load offset=64 (local.get $d)))
    (local.set $end (i32.shl (i32.load offset=8 (local.get $d)) (i32.const 3)))
    (if (i32.ge_u (local.get $n) (local.get $end)) (then (return)))
    (block $rows_done
      (loop $rows
        (br_if $rows_done (i32.ge_u (local.get $r0) (local.get $r1)))
        (local.set $row (i32.add (i32.load offset=44 (local.get $d)) (i32.mul (local.get $r0) (i32.load offset=48 (local.get $d)))))
        (local.set $c (local.get $n))
        (block $cols_done
          (loop $cols
            (br_if $cols_done (i32.ge_u (local.get $c) (local.get $end)))
            (f32.store (i32.add (local.get $row) (i32.shl (local.get $c) (i32.const 2))) (f32.const 0))
            (local.set $c (i32.add (local.get $c) (i32.const 1)))
            (br $cols)))
        (local.set $r0 (i32.add (local.get $r0) (i32.const 1)))
        (br $rows))))
