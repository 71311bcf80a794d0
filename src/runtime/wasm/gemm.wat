;; The CPU kernels of resgpu's WebAssembly backend: the three step kinds of src/graph/steps.ts
;; (gemm over weights packed once at load, layernorm, elementwise), each ending in the one fused
;; epilogue (epilogue.wat), and a driver that runs a whole inference (a table of steps) on one or
;; more threads with a barrier between steps.
;;
;; Build-time variants (tools/vite-plugin-wat.mjs): `f32x4.relaxed_madd` is kept where the engine has
;; relaxed SIMD and rewritten to f32x4.mul + f32x4.add otherwise; the memory import is shared
;; (threads) or not. Nothing else differs. (include "file") lines splice in the named file.
;;
;; Layouts (all offsets in bytes):
;;   activations: row-major, row stride a multiple of 32 (widths padded to 8 floats);
;;   weights (gemm): one panel per 8 output columns; in a panel, for each inner index k, the 8
;;     weights of those columns (32 bytes), k running over the main part, then the projection
;;     part; panels follow each other (panel stride = (k1 + k2) · 32);
;;   γ (layernorm): padded to 8 floats per panel;
;;   epilogue vectors: 96 bytes per panel, its 8 columns' bias, then scale, then shift (scale and
;;     shift are read only with the affine bit; padding columns hold zeros). An elementwise step
;;     without a bias holds −0 there: x + (−0) = x for every float, −0 included (+0 would turn
;;     −0 into +0, and relu(−0) is −0 in PyTorch).
;; A step descriptor (80 bytes, i32 fields unless said):
;;   0 kind (0 gemm, 1 layernorm, 2 elementwise, 3 conv, 4 pool: image.wat, whose header says
;;     what an image step's fields mean where they differ)
;;   4 rows, 8 panels (of output columns)
;;   12 a, 16 lda: the input (gemm: the left operand)
;;   20 k1: gemm: inner size of the main part; layernorm: the features normalized
;;   24 x, 28 ldx: the identity residual, or the projection's left operand
;;   32 k2: the projection's inner size (gemm), else 0
;;   36 w: gemm: the weight panels; layernorm: γ
;;   40 e: the epilogue vectors
;;   44 out, 48 ldo
;;   52 split (0: threads take rows, 1: threads take panels, 2: threads take output pixels;
;;      threads meet after a step unless 0)
;;   56 mode: bits 0-3 the activation (0 none, 1 relu, 2 leaky_relu, 3 gelu, 4 gelu_tanh,
;;      5 silu, 6 sigmoid, 7 tanh), 16 identity residual (x read at the output's columns),
;;      32 affine (· scale + shift)
;;   60 slope (f32, leaky_relu), 64 n (real output columns; the rest of the last panel is
;;   written as zeros), 68 eps (f32, layernorm), 72 ordered (1: every row sums its inner
;;   dimension in one chain, in order, as $tile4 does, so a row's bits never depend on the
;;   batch; deterministic mode), 76 image steps: their geometry (image.wat).
;; Control words at address 0: 0 barrier count, 4 barrier generation, 32 and 36 the image
;; steps' scratch (image.wat; the rest is JS's).
(module
  (import "env" "memory" (memory 1 65536 shared))
  ;; Rows per cache block (a multiple of 4); a global so that a benchmark can tune it.
  (global $block_rows (export "block_rows") (mut i32) (i32.const 16))

  (include "epilogue.wat")
  (include "rows.wat")
  (include "image.wat")
  (include "winograd.wat")

  ;; 4 rows × 8 columns: 8 accumulators in registers; per k, two weight vectors and four
  ;; broadcast activations. The k loop is deliberately not unrolled: V8's TurboFan hoists every
  ;; load of an unrolled body to its top and then spills accumulators to the stack (measured
  ;; with bench/gemm-kernel.mjs: 11.6 GFLOP/s unrolled by 4, 33 not unrolled, one thread).
  ;; a, x and out point at row 0 of the tile; for an identity residual, x already points at the
  ;; tile's columns of it. e: the panel's epilogue vectors (its bias first); d: the descriptor.
  (func $tile4 (param $a i32) (param $lda i32) (param $k i32) (param $x i32) (param $ldx i32) (param $k2 i32)
               (param $w i32) (param $e i32) (param $out i32) (param $ldo i32) (param $d i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $end i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $s v128)
    (local.set $c00 (v128.load (local.get $e)))
    (local.set $c01 (v128.load offset=16 (local.get $e)))
    (local.set $c10 (local.get $c00)) (local.set $c11 (local.get $c01))
    (local.set $c20 (local.get $c00)) (local.set $c21 (local.get $c01))
    (local.set $c30 (local.get $c00)) (local.set $c31 (local.get $c01))
    (loop $segment
      (local.set $a0 (local.get $a))
      (local.set $a1 (i32.add (local.get $a0) (local.get $lda)))
      (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
      (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
      (local.set $end (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
      (if (i32.lt_u (local.get $a0) (local.get $end))
        (then (loop $k1
          (local.set $b0 (v128.load offset=0 (local.get $w)))
          (local.set $b1 (v128.load offset=16 (local.get $w)))
          (local.set $s (v128.load32_splat offset=0 (local.get $a0)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c01)))
          (local.set $s (v128.load32_splat offset=0 (local.get $a1)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c11)))
          (local.set $s (v128.load32_splat offset=0 (local.get $a2)))
          (local.set $c20 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c20)))
          (local.set $c21 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c21)))
          (local.set $s (v128.load32_splat offset=0 (local.get $a3)))
          (local.set $c30 (f32x4.relaxed_madd (local.get $s) (local.get $b0) (local.get $c30)))
          (local.set $c31 (f32x4.relaxed_madd (local.get $s) (local.get $b1) (local.get $c31)))
          (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
          (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
          (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
          (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
          (local.set $w (i32.add (local.get $w) (i32.const 32)))
          (br_if $k1 (i32.lt_u (local.get $a0) (local.get $end))))))
      ;; The projection part of a residual step: same accumulators, the block input as A.
      (if (local.get $k2)
        (then
          (local.set $a (local.get $x))
          (local.set $lda (local.get $ldx))
          (local.set $k (local.get $k2))
          (local.set $k2 (i32.const 0))
          (br $segment))))
    (call $epilogue (local.get $d) (local.get $x) (local.get $e) (local.get $c00) (local.get $c01) (local.get $out))
    (local.set $x (i32.add (local.get $x) (local.get $ldx)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (call $epilogue (local.get $d) (local.get $x) (local.get $e) (local.get $c10) (local.get $c11) (local.get $out))
    (local.set $x (i32.add (local.get $x) (local.get $ldx)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (call $epilogue (local.get $d) (local.get $x) (local.get $e) (local.get $c20) (local.get $c21) (local.get $out))
    (local.set $x (i32.add (local.get $x) (local.get $ldx)))
    (local.set $out (i32.add (local.get $out) (local.get $ldo)))
    (call $epilogue (local.get $d) (local.get $x) (local.get $e) (local.get $c30) (local.get $c31) (local.get $out)))

  ;; 1 row × 8 columns (batch 1, and the rows left over after the 4-row tiles): a GEMV over
  ;; the same panels. Four independent accumulator pairs (one per k mod 4) keep the
  ;; multiply-add latency hidden; they are summed at the end.
  (func $tile1 (param $a i32) (param $lda i32) (param $k i32) (param $x i32) (param $ldx i32) (param $k2 i32)
               (param $w i32) (param $e i32) (param $out i32) (param $ldo i32) (param $d i32)
    (local $a0 i32) (local $end i32) (local $end4 i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128) (local $s v128)
    (local.set $c00 (v128.load (local.get $e)))
    (local.set $c01 (v128.load offset=16 (local.get $e)))
    (loop $segment
      (local.set $a0 (local.get $a))
      (local.set $end (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
      ;; Four partial sums for speed, unless ordered: then one chain, in $tile4's order.
      (local.set $end4 (select (local.get $a)
        (i32.add (local.get $a) (i32.shl (i32.and (local.get $k) (i32.const -4)) (i32.const 2)))
        (i32.load offset=72 (local.get $d))))
      (if (i32.lt_u (local.get $a0) (local.get $end4))
        (then (loop $k4
          (local.set $s (v128.load32_splat offset=0 (local.get $a0)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $s) (v128.load offset=0 (local.get $w)) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $s) (v128.load offset=16 (local.get $w)) (local.get $c01)))
          (local.set $s (v128.load32_splat offset=4 (local.get $a0)))
          (local.set $c10 (f32x4.relaxed_madd (local.get $s) (v128.load offset=32 (local.get $w)) (local.get $c10)))
          (local.set $c11 (f32x4.relaxed_madd (local.get $s) (v128.load offset=48 (local.get $w)) (local.get $c11)))
          (local.set $s (v128.load32_splat offset=8 (local.get $a0)))
          (local.set $c20 (f32x4.relaxed_madd (local.get $s) (v128.load offset=64 (local.get $w)) (local.get $c20)))
          (local.set $c21 (f32x4.relaxed_madd (local.get $s) (v128.load offset=80 (local.get $w)) (local.get $c21)))
          (local.set $s (v128.load32_splat offset=12 (local.get $a0)))
          (local.set $c30 (f32x4.relaxed_madd (local.get $s) (v128.load offset=96 (local.get $w)) (local.get $c30)))
          (local.set $c31 (f32x4.relaxed_madd (local.get $s) (v128.load offset=112 (local.get $w)) (local.get $c31)))
          (local.set $a0 (i32.add (local.get $a0) (i32.const 16)))
          (local.set $w (i32.add (local.get $w) (i32.const 128)))
          (br_if $k4 (i32.lt_u (local.get $a0) (local.get $end4))))))
      (if (i32.lt_u (local.get $a0) (local.get $end))
        (then (loop $k1
          (local.set $s (v128.load32_splat offset=0 (local.get $a0)))
          (local.set $c00 (f32x4.relaxed_madd (local.get $s) (v128.load offset=0 (local.get $w)) (local.get $c00)))
          (local.set $c01 (f32x4.relaxed_madd (local.get $s) (v128.load offset=16 (local.get $w)) (local.get $c01)))
          (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
          (local.set $w (i32.add (local.get $w) (i32.const 32)))
          (br_if $k1 (i32.lt_u (local.get $a0) (local.get $end))))))
      (if (local.get $k2)
        (then
          (local.set $a (local.get $x))
          (local.set $k (local.get $k2))
          (local.set $k2 (i32.const 0))
          (br $segment))))
    (local.set $c00 (f32x4.add (f32x4.add (local.get $c00) (local.get $c10)) (f32x4.add (local.get $c20) (local.get $c30))))
    (local.set $c01 (f32x4.add (f32x4.add (local.get $c01) (local.get $c11)) (f32x4.add (local.get $c21) (local.get $c31))))
    (call $epilogue (local.get $d) (local.get $x) (local.get $e) (local.get $c00) (local.get $c01) (local.get $out)))

  ;; This thread's share of one step: a contiguous range of panels (few rows) or of 4-row
  ;; groups (many rows; the last thread also takes the leftover rows), whatever the kind.
  (func $step (param $d i32) (param $thread i32) (param $threads i32)
    (local $kind i32) (local $rows i32) (local $panels i32) (local $groups i32)
    (local $p0 i32) (local $p1 i32) (local $r0 i32) (local $r1 i32)
    (local.set $kind (i32.load (local.get $d)))
    (if (i32.ge_u (local.get $kind) (i32.const 3))
      (then (return (call $image_step (local.get $d) (local.get $thread) (local.get $threads)))))
    (local.set $rows (i32.load offset=4 (local.get $d)))
    (local.set $panels (i32.load offset=8 (local.get $d)))
    (if (i32.load offset=52 (local.get $d))
      (then
        (local.set $p0 (i32.div_u (i32.mul (local.get $panels) (local.get $thread)) (local.get $threads)))
        (local.set $p1 (i32.div_u (i32.mul (local.get $panels) (i32.add (local.get $thread) (i32.const 1))) (local.get $threads)))
        (local.set $r0 (i32.const 0))
        (local.set $r1 (local.get $rows)))
      (else
        (local.set $groups (i32.shr_u (local.get $rows) (i32.const 2)))
        (local.set $r0 (i32.shl (i32.div_u (i32.mul (local.get $groups) (local.get $thread)) (local.get $threads)) (i32.const 2)))
        (local.set $r1 (i32.shl (i32.div_u (i32.mul (local.get $groups) (i32.add (local.get $thread) (i32.const 1))) (local.get $threads)) (i32.const 2)))
        (if (i32.eq (local.get $thread) (i32.sub (local.get $threads) (i32.const 1)))
          (then (local.set $r1 (local.get $rows))))
        (local.set $p0 (i32.const 0))
        (local.set $p1 (local.get $panels))))
    (if (i32.eqz (local.get $kind))
      (then (call $gemm_rows (local.get $d) (local.get $r0) (local.get $r1) (local.get $p0) (local.get $p1)))
      (else (if (i32.eq (local.get $kind) (i32.const 1))
        (then (call $layernorm_rows (local.get $d) (local.get $r0) (local.get $r1) (local.get $p0) (local.get $p1)))
        (else (call $elementwise_rows (local.get $d) (local.get $r0) (local.get $r1) (local.get $p0) (local.get $p1))))))
    ;; The thread that computed the last panel of these rows zeroes its padding columns.
    (if (i32.and (i32.eq (local.get $p1) (local.get $panels)) (i32.lt_u (local.get $p0) (local.get $p1)))
      (then (call $zero_tail (local.get $d) (local.get $r0) (local.get $r1)))))

  ;; A gemm step on rows [r0, r1) × panels [p0, p1). Panels are the inner loop of row blocks, so
  ;; a panel's weights stay in cache while the block's rows stream past them.
  (func $gemm_rows (param $d i32) (param $r0 i32) (param $r1 i32) (param $p0 i32) (param $p1 i32)
    (local $a i32) (local $lda i32) (local $k1 i32)
    (local $x i32) (local $ldx i32) (local $k2 i32) (local $w i32) (local $e i32) (local $out i32) (local $ldo i32)
    (local $p i32) (local $r i32) (local $rb i32) (local $re i32) (local $identity i32)
    (local $pstride i32) (local $wp i32) (local $col i32) (local $xcol i32) (local $ep i32)
    (local.set $a (i32.load offset=12 (local.get $d)))
    (local.set $lda (i32.load offset=16 (local.get $d)))
    (local.set $k1 (i32.load offset=20 (local.get $d)))
    (local.set $x (i32.load offset=24 (local.get $d)))
    (local.set $ldx (i32.load offset=28 (local.get $d)))
    (local.set $k2 (i32.load offset=32 (local.get $d)))
    (local.set $w (i32.load offset=36 (local.get $d)))
    (local.set $e (i32.load offset=40 (local.get $d)))
    (local.set $out (i32.load offset=44 (local.get $d)))
    (local.set $ldo (i32.load offset=48 (local.get $d)))
    (local.set $identity (i32.and (i32.load offset=56 (local.get $d)) (i32.const 16)))
    (local.set $pstride (i32.shl (i32.add (local.get $k1) (local.get $k2)) (i32.const 5)))
    ;; Rows in blocks of $block_rows: a block's rows of A stay in the core's L2 cache while
    ;; every panel passes over them (a panel's weights, read once per block, stay in L1).
    (local.set $rb (local.get $r0))
    (block $blocks_done
      (loop $block
        (br_if $blocks_done (i32.ge_u (local.get $rb) (local.get $r1)))
        (local.set $re (select (local.get $r1) (i32.add (local.get $rb) (global.get $block_rows))
          (i32.lt_u (i32.sub (local.get $r1) (local.get $rb)) (global.get $block_rows))))
        (local.set $p (local.get $p0))
        (block $panels_done
          (loop $panel
            (br_if $panels_done (i32.ge_u (local.get $p) (local.get $p1)))
            (local.set $wp (i32.add (local.get $w) (i32.mul (local.get $p) (local.get $pstride))))
            (local.set $col (i32.shl (local.get $p) (i32.const 5)))
            (local.set $ep (i32.add (local.get $e) (i32.mul (local.get $p) (i32.const 96))))
            ;; Identity residual: x is read in the epilogue at the tile's columns.
            (local.set $xcol (select (local.get $col) (i32.const 0) (local.get $identity)))
            (local.set $r (local.get $rb))
            (block $tiles_done
              (loop $tile
                (br_if $tiles_done (i32.gt_u (i32.add (local.get $r) (i32.const 4)) (local.get $re)))
                (call $tile4
                  (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $lda))) (local.get $lda) (local.get $k1)
                  (i32.add (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $ldx))) (local.get $xcol)) (local.get $ldx) (local.get $k2)
                  (local.get $wp) (local.get $ep)
                  (i32.add (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $ldo))) (local.get $col)) (local.get $ldo)
                  (local.get $d))
                (local.set $r (i32.add (local.get $r) (i32.const 4)))
                (br $tile)))
            (block $rows_done
              (loop $row
                (br_if $rows_done (i32.ge_u (local.get $r) (local.get $re)))
                (call $tile1
                  (i32.add (local.get $a) (i32.mul (local.get $r) (local.get $lda))) (local.get $lda) (local.get $k1)
                  (i32.add (i32.add (local.get $x) (i32.mul (local.get $r) (local.get $ldx))) (local.get $xcol)) (local.get $ldx) (local.get $k2)
                  (local.get $wp) (local.get $ep)
                  (i32.add (i32.add (local.get $out) (i32.mul (local.get $r) (local.get $ldo))) (local.get $col)) (local.get $ldo)
                  (local.get $d))
                (local.set $r (i32.add (local.get $r) (i32.const 1)))
                (br $row)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panel)))
        (local.set $rb (local.get $re))
        (br $block))))

  ;; Every thread waits here until all `threads` have arrived. A thread spins first (a step
  ;; takes microseconds to milliseconds, less than a sleep and wake-up); workers then sleep
  ;; on the generation word; the browser's main thread cannot sleep, so it keeps spinning.
  (func $barrier (param $threads i32) (param $can_block i32)
    (local $generation i32) (local $spins i32)
    (local.set $generation (i32.atomic.load offset=4 (i32.const 0)))
    (if (i32.eq (i32.atomic.rmw.add (i32.const 0) (i32.const 1)) (i32.sub (local.get $threads) (i32.const 1)))
      (then
        ;; The last to arrive resets the count before releasing the others.
        (i32.atomic.store (i32.const 0) (i32.const 0))
        (drop (i32.atomic.rmw.add offset=4 (i32.const 0) (i32.const 1)))
        (drop (memory.atomic.notify offset=4 (i32.const 0) (i32.const -1)))
        (return)))
    (loop $wait
      (if (i32.ne (i32.atomic.load offset=4 (i32.const 0)) (local.get $generation)) (then (return)))
      (local.set $spins (i32.add (local.get $spins) (i32.const 1)))
      (if (i32.and (local.get $can_block) (i32.gt_u (local.get $spins) (i32.const 200000)))
        (then (drop (memory.atomic.wait32 offset=4 (i32.const 0) (local.get $generation) (i64.const -1)))))
      (br $wait)))

  ;; One inference: `steps` descriptors from `plan`, this thread's share of each. When threads
  ;; split the rows, each thread carries its own rows through every step (rows never mix), so
  ;; they meet only once, after the last step (the caller then reads the output). When they
  ;; split the panels, a step needs every column of the previous one: they meet after each step.
  (func (export "run") (param $plan i32) (param $steps i32) (param $thread i32) (param $threads i32) (param $can_block i32)
    (local $end i32)
    (local.set $end (i32.add (local.get $plan) (i32.mul (local.get $steps) (i32.const 80))))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $plan) (local.get $end)))
        (call $step (local.get $plan) (local.get $thread) (local.get $threads))
        (if (i32.and (i32.gt_u (local.get $threads) (i32.const 1)) (i32.ne (i32.load offset=52 (local.get $plan)) (i32.const 0)))
          (then (call $barrier (local.get $threads) (local.get $can_block))))
        (local.set $plan (i32.add (local.get $plan) (i32.const 80)))
        (br $next)))
    (if (i32.gt_u (local.get $threads) (i32.const 1))
      (then (call $barrier (local.get $threads) (local.get $can_block)))))
)
