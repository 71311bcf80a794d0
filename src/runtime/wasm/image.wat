;; The image step kinds (src/graph/steps.ts) on channels-last images: conv (an implicit GEMM through
;; an indirection table) and pool (max or mean over a window; also an elementwise step on an
;; image, as a 1×1 max window, which returns each value as it is). Part of gemm.wat's module
;; (spliced in where gemm.wat says (include "image.wat")).
;;
;; An image value holds, per batch row (the descriptor's row stride), its H·W pixels of C channels
;; padded to 8 (`pixel` bytes each). The step's output pixels are numbered m = b·OH·OW + oh·OW + ow
;; over the batch rows; threads take ranges of m (or of panels, when there are few pixels).
;; The descriptor's fields (gemm.wat) for an image step: rows are batch rows; panels and n count
;; channels; k1 is the input's padded channels (a conv's segment), k2 the projection input's.
;; A step's image geometry (descriptor field 76 points at it; i32 fields, geometry.ts writes it):
;;   0 in_h, 4 in_w, 8 out_h, 12 out_w, 16 kh, 20 kw, 24 sh, 28 sw, 32 pad_top, 36 pad_left,
;;   40 dh, 44 dw, 48 in_pixel, 52 out_pixel, 56 x_pixel (bytes), 60 x_w (a projection's
;;   shortcut width), 64 psh, 68 psw (its stride), 72 pool (0 max, 1 mean), 76 count_include_pad,
;;   80 pad_bottom, 84 pad_right, 88 zero (a row of zeros, as wide as any input pixel),
;;   92 block (output pixels per cache block of a conv, a multiple of 4), 96 compact (a conv on
;;   fewer than 8 channels: the floats kh·kw·C of a window row, else 0), 100 C (the input's real
;;   channels), 104 a Winograd conv's tiles of 2×2 output pixels per block (a multiple of 4; 0:
;;   the direct implicit GEMM).
;; Control words 8 and 9 (layout.ts CONTROL): the scratch of thread 0 and the bytes per thread.
;; A thread's scratch holds a block's compact window rows (if any), then its tables.

  ;; The indirection table of one tile of 4 output pixels from m (`count` of them real; the others
  ;; repeat the last, so a tile at the end of the range computes, and writes, that pixel again,
  ;; the same bits at the same place): per segment (each tap (kh, kw) in order, then the
  ;; projection), the 4 input pixel addresses (the zero row where the tap falls in the padding);
  ;; then the 4 output pixel addresses; then the 4 residual pixel addresses (identity: at the
  ;; output's position; projection: its input, also its segment's). A compact conv's one segment
  ;; is each pixel's window row, `rowbytes` apart from `rows` on.
  (func $conv_table (param $d i32) (param $g i32) (param $m i32) (param $count i32) (param $t i32) (param $segs i32)
                    (param $rows i32) (param $rowbytes i32)
    (local $i i32) (local $mi i32) (local $plane i32) (local $b i32) (local $q i32) (local $oh i32) (local $ow i32)
    (local $base i32) (local $x i32) (local $ih0 i32) (local $iw0 i32) (local $slot i32)
    (local.set $plane (i32.mul (i32.load offset=8 (local.get $g)) (i32.load offset=12 (local.get $g))))
    (loop $pixel
      (local.set $mi (i32.add (local.get $m)
        (select (local.get $i) (i32.sub (local.get $count) (i32.const 1)) (i32.lt_u (local.get $i) (local.get $count)))))
      (local.set $b (i32.div_u (local.get $mi) (local.get $plane)))
      (local.set $q (i32.sub (local.get $mi) (i32.mul (local.get $b) (local.get $plane))))
      (local.set $oh (i32.div_u (local.get $q) (i32.load offset=12 (local.get $g))))
      (local.set $ow (i32.sub (local.get $q) (i32.mul (local.get $oh) (i32.load offset=12 (local.get $g)))))
      ;; The output pixel, then the residual's (identity) or the projection's input pixel.
      (i32.store (i32.add (local.get $t) (i32.add (i32.shl (local.get $segs) (i32.const 4)) (i32.shl (local.get $i) (i32.const 2))))
        (i32.add (i32.add (i32.load offset=44 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=48 (local.get $d))))
          (i32.mul (local.get $q) (i32.load offset=52 (local.get $g)))))
      (local.set $x (i32.add (i32.load offset=24 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=28 (local.get $d)))))
      (local.set $x (i32.add (local.get $x) (i32.mul (i32.load offset=56 (local.get $g))
        (select
          (i32.add (i32.mul (i32.mul (local.get $oh) (i32.load offset=64 (local.get $g))) (i32.load offset=60 (local.get $g)))
            (i32.mul (local.get $ow) (i32.load offset=68 (local.get $g))))
          (local.get $q)
          (i32.load offset=32 (local.get $d))))))
      (i32.store (i32.add (local.get $t) (i32.add (i32.shl (i32.add (local.get $segs) (i32.const 1)) (i32.const 4)) (i32.shl (local.get $i) (i32.const 2))))
        (local.get $x))
      (if (i32.load offset=32 (local.get $d))
        (then (i32.store (i32.add (local.get $t) (i32.add (i32.shl (i32.sub (local.get $segs) (i32.const 1)) (i32.const 4)) (i32.shl (local.get $i) (i32.const 2))))
          (local.get $x))))
      ;; The taps, row by row of the window.
      (local.set $base (i32.add (i32.load offset=12 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=16 (local.get $d)))))
      (local.set $ih0 (i32.sub (i32.mul (local.get $oh) (i32.load offset=24 (local.get $g))) (i32.load offset=32 (local.get $g))))
      (local.set $iw0 (i32.sub (i32.mul (local.get $ow) (i32.load offset=28 (local.get $g))) (i32.load offset=36 (local.get $g))))
      (local.set $slot (i32.add (local.get $t) (i32.shl (local.get $i) (i32.const 2))))
      (if (local.get $rows)
        (then (i32.store (local.get $slot) (i32.add (local.get $rows) (i32.mul (i32.sub (local.get $mi) (local.get $m)) (local.get $rowbytes)))))
        (else (call $conv_taps (local.get $g) (local.get $slot) (local.get $base) (local.get $ih0) (local.get $iw0))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $pixel (i32.lt_u (local.get $i) (i32.const 4)))))

  ;; The input pixel address of each tap of a window at (ih0, iw0), every 16 bytes from slot on
  ;; (the zero row where the tap falls in the padding).
  (func $conv_taps (param $g i32) (param $slot i32) (param $base i32) (param $ih0 i32) (param $iw0 i32)
    (local $ki i32) (local $kj i32) (local $ih i32) (local $iw i32) (local $in_h i32) (local $in_w i32) (local $ipix i32) (local $zero i32)
    (local.set $in_h (i32.load offset=0 (local.get $g)))
    (local.set $in_w (i32.load offset=4 (local.get $g)))
    (local.set $ipix (i32.load offset=48 (local.get $g)))
    (local.set $zero (i32.load offset=88 (local.get $g)))
    (loop $rows
      (local.set $ih (i32.add (local.get $ih0) (i32.mul (local.get $ki) (i32.load offset=40 (local.get $g)))))
      (local.set $kj (i32.const 0))
      (loop $cols
        (local.set $iw (i32.add (local.get $iw0) (i32.mul (local.get $kj) (i32.load offset=44 (local.get $g)))))
        ;; Unsigned compares: a negative coordinate is past the end too.
        (i32.store (local.get $slot)
          (select
            (i32.add (local.get $base) (i32.mul (i32.add (i32.mul (local.get $ih) (local.get $in_w)) (local.get $iw)) (local.get $ipix)))
            (local.get $zero)
            (i32.and (i32.lt_u (local.get $ih) (local.get $in_h)) (i32.lt_u (local.get $iw) (local.get $in_w)))))
        (local.set $slot (i32.add (local.get $slot) (i32.const 16)))
        (local.set $kj (i32.add (local.get $kj) (i32.const 1)))
        (br_if $cols (i32.lt_u (local.get $kj) (i32.load offset=20 (local.get $g)))))
      (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
      (br_if $rows (i32.lt_u (local.get $ki) (i32.load offset=16 (local.get $g))))))

  ;; A compact conv's window rows for output pixels [m0, m1), from dst on: per pixel, per tap
  ;; (kh, kw) in order, the input pixel's C real channels, or C zeros in the padding.
  (func $im2col (param $d i32) (param $g i32) (param $m0 i32) (param $m1 i32) (param $dst i32)
    (local $plane i32) (local $b i32) (local $q i32) (local $oh i32) (local $ow i32) (local $base i32)
    (local $ih i32) (local $iw i32) (local $ki i32) (local $kj i32) (local $c i32) (local $src i32) (local $end i32)
    (local.set $plane (i32.mul (i32.load offset=8 (local.get $g)) (i32.load offset=12 (local.get $g))))
    (local.set $c (i32.shl (i32.load offset=100 (local.get $g)) (i32.const 2)))
    (block $done
      (loop $pixel
        (br_if $done (i32.ge_u (local.get $m0) (local.get $m1)))
        (local.set $b (i32.div_u (local.get $m0) (local.get $plane)))
        (local.set $q (i32.sub (local.get $m0) (i32.mul (local.get $b) (local.get $plane))))
        (local.set $oh (i32.div_u (local.get $q) (i32.load offset=12 (local.get $g))))
        (local.set $ow (i32.sub (local.get $q) (i32.mul (local.get $oh) (i32.load offset=12 (local.get $g)))))
        (local.set $base (i32.add (i32.load offset=12 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=16 (local.get $d)))))
        (local.set $ki (i32.const 0))
        (loop $rows
          (local.set $ih (i32.add (i32.sub (i32.mul (local.get $oh) (i32.load offset=24 (local.get $g))) (i32.load offset=32 (local.get $g)))
            (i32.mul (local.get $ki) (i32.load offset=40 (local.get $g)))))
          (local.set $kj (i32.const 0))
          (loop $cols
            (local.set $iw (i32.add (i32.sub (i32.mul (local.get $ow) (i32.load offset=28 (local.get $g))) (i32.load offset=36 (local.get $g)))
              (i32.mul (local.get $kj) (i32.load offset=44 (local.get $g)))))
            (local.set $src (select
              (i32.add (local.get $base) (i32.mul (i32.add (i32.mul (local.get $ih) (i32.load offset=4 (local.get $g))) (local.get $iw)) (i32.load offset=48 (local.get $g))))
              (i32.load offset=88 (local.get $g))
              (i32.and (i32.lt_u (local.get $ih) (i32.load offset=0 (local.get $g))) (i32.lt_u (local.get $iw) (i32.load offset=4 (local.get $g))))))
            (local.set $end (i32.add (local.get $dst) (local.get $c)))
            (loop $copy
              (f32.store (local.get $dst) (f32.load (local.get $src)))
              (local.set $src (i32.add (local.get $src) (i32.const 4)))
              (local.set $dst (i32.add (local.get $dst) (i32.const 4)))
              (br_if $copy (i32.lt_u (local.get $dst) (local.get $end))))
            (local.set $kj (i32.add (local.get $kj) (i32.const 1)))
            (br_if $cols (i32.lt_u (local.get $kj) (i32.load offset=20 (local.get $g)))))
          (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
          (br_if $rows (i32.lt_u (local.get $ki) (i32.load offset=16 (local.get $g)))))
        (local.set $m0 (i32.add (local.get $m0) (i32.const 1)))
        (br $pixel))))

  ;; 4 output pixels × 8 channels, as $tile4, its rows read through the table t: segment s reads
  ;; k1 floats (a tap's channels; k2 for the projection, the last segment when k2 ≠ 0) from each
  ;; of its 4 pixel addresses, against the next k weights of the panel. Every output's sum runs
  ;; over the segments in order, in one chain, whichever tile or thread computes it.
  (func $conv_tile4 (param $t i32) (param $taps i32) (param $segs i32) (param $k1 i32) (param $k2 i32)
                    (param $col i32) (param $w i32) (param $e i32) (param $d i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $end i32) (local $s i32) (local $o i32) (local $x i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $v v128)
    (local.set $c00 (v128.load (local.get $e)))
    (local.set $c01 (v128.load offset=16 (local.get $e)))
    (local.set $c10 (local.get $c00)) (local.set $c11 (local.get $c01))
    (local.set $c20 (local.get $c00)) (local.set $c21 (local.get $c01))
    (local.set $c30 (local.get $c00)) (local.set $c31 (local.get $c01))
    (loop $segment
      (local.set $a0 (i32.load offset=0 (local.get $t)))
      (local.set $a1 (i32.load offset=4 (local.get $t)))
      (local.set $a2 (i32.load offset=8 (local.get $t)))
      (local.set $a3 (i32.load offset=12 (local.get $t)))
      (local.set $end (i32.add (local.get $a0)
        (i32.shl (select (local.get $k1) (local.get $k2) (i32.lt_u (local.get $s) (local.get $taps))) (i32.const 2))))
      (loop $k
        (local.set $b0 (v128.load offset=0 (local.get $w)))
        (local.set $b1 (v128.load offset=16 (local.get $w)))
        (local.set $v (v128.load32_splat offset=0 (local.get $a0)))
        (local.set $c00 (f32x4.relaxed_madd (local.get $v) (local.get $b0) (local.get $c00)))
        (local.set $c01 (f32x4.relaxed_madd (local.get $v) (local.get $b1) (local.get $c01)))
        (local.set $v (v128.load32_splat offset=0 (local.get $a1)))
        (local.set $c10 (f32x4.relaxed_madd (local.get $v) (local.get $b0) (local.get $c10)))
        (local.set $c11 (f32x4.relaxed_madd (local.get $v) (local.get $b1) (local.get $c11)))
        (local.set $v (v128.load32_splat offset=0 (local.get $a2)))
        (local.set $c20 (f32x4.relaxed_madd (local.get $v) (local.get $b0) (local.get $c20)))
        (local.set $c21 (f32x4.relaxed_madd (local.get $v) (local.get $b1) (local.get $c21)))
        (local.set $v (v128.load32_splat offset=0 (local.get $a3)))
        (local.set $c30 (f32x4.relaxed_madd (local.get $v) (local.get $b0) (local.get $c30)))
        (local.set $c31 (f32x4.relaxed_madd (local.get $v) (local.get $b1) (local.get $c31)))
        (local.set $a0 (i32.add (local.get $a0) (i32.const 4)))
        (local.set $a1 (i32.add (local.get $a1) (i32.const 4)))
        (local.set $a2 (i32.add (local.get $a2) (i32.const 4)))
        (local.set $a3 (i32.add (local.get $a3) (i32.const 4)))
        (local.set $w (i32.add (local.get $w) (i32.const 32)))
        (br_if $k (i32.lt_u (local.get $a0) (local.get $end))))
      (local.set $t (i32.add (local.get $t) (i32.const 16)))
      (local.set $s (i32.add (local.get $s) (i32.const 1)))
      (br_if $segment (i32.lt_u (local.get $s) (local.get $segs))))
    ;; t now points at the output addresses, then the residual's.
    (call $epilogue (local.get $d) (i32.add (i32.load offset=16 (local.get $t)) (local.get $col)) (local.get $e) (local.get $c00) (local.get $c01)
      (i32.add (i32.load offset=0 (local.get $t)) (local.get $col)))
    (call $epilogue (local.get $d) (i32.add (i32.load offset=20 (local.get $t)) (local.get $col)) (local.get $e) (local.get $c10) (local.get $c11)
      (i32.add (i32.load offset=4 (local.get $t)) (local.get $col)))
    (call $epilogue (local.get $d) (i32.add (i32.load offset=24 (local.get $t)) (local.get $col)) (local.get $e) (local.get $c20) (local.get $c21)
      (i32.add (i32.load offset=8 (local.get $t)) (local.get $col)))
    (call $epilogue (local.get $d) (i32.add (i32.load offset=28 (local.get $t)) (local.get $col)) (local.get $e) (local.get $c30) (local.get $c31)
      (i32.add (i32.load offset=12 (local.get $t)) (local.get $col))))

  ;; Channels n … 8·panels of the pixel at p as exact zeros (steps.ts): the last panel computed
  ;; them from padding, which a NaN input turns into NaN (0 · NaN), and sigmoid(0) is not 0.
  (func $zero_pixel_tail (param $d i32) (param $p i32)
    (local $c i32) (local $end i32)
    (local.set $c (i32.load offset=64 (local.get $d)))
    (local.set $end (i32.shl (i32.load offset=8 (local.get $d)) (i32.const 3)))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $c) (local.get $end)))
        (f32.store (i32.add (local.get $p) (i32.shl (local.get $c) (i32.const 2))) (f32.const 0))
        (local.set $c (i32.add (local.get $c) (i32.const 1)))
        (br $next))))

  ;; A conv step on output pixels [m0, m1) × panels [p0, p1), in blocks of pixels: a block's
  ;; tables are made once, then every panel passes over its tiles (the panel's weights are read
  ;; once per block, the block's input pixels stay in cache from panel to panel). The tables go
  ;; to this thread's scratch.
  (func $conv_rows (param $d i32) (param $m0 i32) (param $m1 i32) (param $p0 i32) (param $p1 i32) (param $scratch i32)
    (local $g i32) (local $taps i32) (local $segs i32) (local $tbytes i32) (local $k1 i32) (local $k2 i32)
    (local $pstride i32) (local $mb i32) (local $me i32) (local $m i32) (local $t i32) (local $tend i32)
    (local $p i32) (local $wp i32) (local $ep i32) (local $col i32) (local $tail i32)
    (local $rowbytes i32) (local $tables i32)
    (local.set $g (i32.load offset=76 (local.get $d)))
    (local.set $k1 (i32.load offset=20 (local.get $d)))
    (local.set $k2 (i32.load offset=32 (local.get $d)))
    (local.set $taps (i32.mul (i32.load offset=16 (local.get $g)) (i32.load offset=20 (local.get $g))))
    ;; A compact conv: one segment, its window rows first in the scratch, the tables after them.
    (local.set $rowbytes (i32.shl (i32.load offset=96 (local.get $g)) (i32.const 2)))
    (if (local.get $rowbytes) (then (local.set $taps (i32.const 1))))
    (local.set $tables (i32.add (local.get $scratch)
      (i32.and (i32.add (i32.mul (i32.load offset=92 (local.get $g)) (local.get $rowbytes)) (i32.const 15)) (i32.const -16))))
    (local.set $segs (i32.add (local.get $taps) (i32.ne (local.get $k2) (i32.const 0))))
    (local.set $tbytes (i32.shl (i32.add (local.get $segs) (i32.const 2)) (i32.const 4)))
    (local.set $pstride (i32.shl (i32.add (i32.mul (local.get $taps) (local.get $k1)) (local.get $k2)) (i32.const 5)))
    ;; The thread with the last panel zeroes the padding channels.
    (local.set $tail (i32.and (i32.eq (local.get $p1) (i32.load offset=8 (local.get $d)))
      (i32.lt_u (i32.load offset=64 (local.get $d)) (i32.shl (local.get $p1) (i32.const 3)))))
    (local.set $mb (local.get $m0))
    (block $blocks_done
      (loop $block
        (br_if $blocks_done (i32.ge_u (local.get $mb) (local.get $m1)))
        (local.set $me (i32.add (local.get $mb) (i32.load offset=92 (local.get $g))))
        (if (i32.gt_u (local.get $me) (local.get $m1)) (then (local.set $me (local.get $m1))))
        (if (local.get $rowbytes) (then (call $im2col (local.get $d) (local.get $g) (local.get $mb) (local.get $me) (local.get $scratch))))
        (local.set $t (local.get $tables))
        (local.set $m (local.get $mb))
        (loop $tables
          (call $conv_table (local.get $d) (local.get $g) (local.get $m) (i32.sub (local.get $me) (local.get $m)) (local.get $t) (local.get $segs)
            (select (i32.add (local.get $scratch) (i32.mul (i32.sub (local.get $m) (local.get $mb)) (local.get $rowbytes))) (i32.const 0) (local.get $rowbytes))
            (local.get $rowbytes))
          (local.set $t (i32.add (local.get $t) (local.get $tbytes)))
          (local.set $m (i32.add (local.get $m) (i32.const 4)))
          (br_if $tables (i32.lt_u (local.get $m) (local.get $me))))
        (local.set $tend (local.get $t))
        (local.set $p (local.get $p0))
        (block $panels_done
          (loop $panel
            (br_if $panels_done (i32.ge_u (local.get $p) (local.get $p1)))
            (local.set $wp (i32.add (i32.load offset=36 (local.get $d)) (i32.mul (local.get $p) (local.get $pstride))))
            (local.set $ep (i32.add (i32.load offset=40 (local.get $d)) (i32.mul (local.get $p) (i32.const 96))))
            (local.set $col (i32.shl (local.get $p) (i32.const 5)))
            (local.set $t (local.get $tables))
            (loop $tile
              (call $conv_tile4 (local.get $t) (local.get $taps) (local.get $segs) (local.get $k1) (local.get $k2)
                (local.get $col) (local.get $wp) (local.get $ep) (local.get $d))
              (local.set $t (i32.add (local.get $t) (local.get $tbytes)))
              (br_if $tile (i32.lt_u (local.get $t) (local.get $tend))))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panel)))
        (if (local.get $tail)
          (then
            (local.set $t (i32.add (local.get $tables) (i32.shl (local.get $segs) (i32.const 4))))
            (loop $zero
              (call $zero_pixel_tail (local.get $d) (i32.load offset=0 (local.get $t)))
              (call $zero_pixel_tail (local.get $d) (i32.load offset=4 (local.get $t)))
              (call $zero_pixel_tail (local.get $d) (i32.load offset=8 (local.get $t)))
              (call $zero_pixel_tail (local.get $d) (i32.load offset=12 (local.get $t)))
              (local.set $t (i32.add (local.get $t) (local.get $tbytes)))
              (br_if $zero (i32.lt_u (local.get $t) (local.get $tend))))))
        (local.set $mb (local.get $me))
        (br $block))))

  ;; A pool step on output pixels [m0, m1) × panels [p0, p1): per pixel and panel, the max
  ;; (f32x4.max: a NaN in the window gives NaN, as PyTorch) or the sum over the window's taps
  ;; inside the input, row by row, the sum then divided by ATen's divisor (avgpool2d.ts); then
  ;; + bias (−0) and the epilogue.
  (func $pool_rows (param $d i32) (param $m0 i32) (param $m1 i32) (param $p0 i32) (param $p1 i32)
    (local $g i32) (local $plane i32) (local $b i32) (local $q i32) (local $oh i32) (local $ow i32)
    (local $base i32) (local $out i32) (local $x i32) (local $h0 i32) (local $w0 i32) (local $h1 i32) (local $w1 i32)
    (local $ih i32) (local $iw i32) (local $ki i32) (local $kj i32) (local $p i32) (local $col i32) (local $ep i32) (local $src i32)
    (local $mean i32) (local $count f32) (local $c0 v128) (local $c1 v128) (local $tail i32)
    (local.set $g (i32.load offset=76 (local.get $d)))
    (local.set $plane (i32.mul (i32.load offset=8 (local.get $g)) (i32.load offset=12 (local.get $g))))
    (local.set $mean (i32.load offset=72 (local.get $g)))
    (local.set $tail (i32.and (i32.eq (local.get $p1) (i32.load offset=8 (local.get $d)))
      (i32.lt_u (i32.load offset=64 (local.get $d)) (i32.shl (local.get $p1) (i32.const 3)))))
    (block $pixels_done
      (loop $pixel
        (br_if $pixels_done (i32.ge_u (local.get $m0) (local.get $m1)))
        (local.set $b (i32.div_u (local.get $m0) (local.get $plane)))
        (local.set $q (i32.sub (local.get $m0) (i32.mul (local.get $b) (local.get $plane))))
        (local.set $oh (i32.div_u (local.get $q) (i32.load offset=12 (local.get $g))))
        (local.set $ow (i32.sub (local.get $q) (i32.mul (local.get $oh) (i32.load offset=12 (local.get $g)))))
        (local.set $base (i32.add (i32.load offset=12 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=16 (local.get $d)))))
        (local.set $out (i32.add (i32.add (i32.load offset=44 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=48 (local.get $d))))
          (i32.mul (local.get $q) (i32.load offset=52 (local.get $g)))))
        (local.set $x (i32.add (i32.add (i32.load offset=24 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=28 (local.get $d))))
          (i32.mul (local.get $q) (i32.load offset=56 (local.get $g)))))
        (local.set $h0 (i32.sub (i32.mul (local.get $oh) (i32.load offset=24 (local.get $g))) (i32.load offset=32 (local.get $g))))
        (local.set $w0 (i32.sub (i32.mul (local.get $ow) (i32.load offset=28 (local.get $g))) (i32.load offset=36 (local.get $g))))
        (if (local.get $mean)
          (then
            ;; ATen's divisor: the window clipped to the padded input, or (count_include_pad off)
            ;; to the input.
            (local.set $h1 (i32.add (local.get $h0) (i32.load offset=16 (local.get $g))))
            (if (i32.gt_s (local.get $h1) (i32.add (i32.load offset=0 (local.get $g)) (i32.load offset=80 (local.get $g))))
              (then (local.set $h1 (i32.add (i32.load offset=0 (local.get $g)) (i32.load offset=80 (local.get $g))))))
            (local.set $w1 (i32.add (local.get $w0) (i32.load offset=20 (local.get $g))))
            (if (i32.gt_s (local.get $w1) (i32.add (i32.load offset=4 (local.get $g)) (i32.load offset=84 (local.get $g))))
              (then (local.set $w1 (i32.add (i32.load offset=4 (local.get $g)) (i32.load offset=84 (local.get $g))))))
            (if (i32.load offset=76 (local.get $g))
              (then (local.set $count (f32.convert_i32_s (i32.mul (i32.sub (local.get $h1) (local.get $h0)) (i32.sub (local.get $w1) (local.get $w0))))))
              (else
                (if (i32.gt_s (local.get $h1) (i32.load offset=0 (local.get $g))) (then (local.set $h1 (i32.load offset=0 (local.get $g)))))
                (if (i32.gt_s (local.get $w1) (i32.load offset=4 (local.get $g))) (then (local.set $w1 (i32.load offset=4 (local.get $g)))))
                (local.set $count (f32.convert_i32_s (i32.mul
                  (i32.sub (local.get $h1) (select (local.get $h0) (i32.const 0) (i32.gt_s (local.get $h0) (i32.const 0))))
                  (i32.sub (local.get $w1) (select (local.get $w0) (i32.const 0) (i32.gt_s (local.get $w0) (i32.const 0)))))))))))
        (local.set $p (local.get $p0))
        (block $panels_done
          (loop $panel
            (br_if $panels_done (i32.ge_u (local.get $p) (local.get $p1)))
            (local.set $col (i32.shl (local.get $p) (i32.const 5)))
            (local.set $ep (i32.add (i32.load offset=40 (local.get $d)) (i32.mul (local.get $p) (i32.const 96))))
            (if (local.get $mean)
              (then (local.set $c0 (v128.const f32x4 0 0 0 0)) (local.set $c1 (v128.const f32x4 0 0 0 0)))
              (else
                (local.set $c0 (v128.const f32x4 -inf -inf -inf -inf))
                (local.set $c1 (v128.const f32x4 -inf -inf -inf -inf))))
            (local.set $ki (i32.const 0))
            (loop $rows
              (local.set $ih (i32.add (local.get $h0) (i32.mul (local.get $ki) (i32.load offset=40 (local.get $g)))))
              (if (i32.lt_u (local.get $ih) (i32.load offset=0 (local.get $g)))
                (then
                  (local.set $kj (i32.const 0))
                  (loop $cols
                    (local.set $iw (i32.add (local.get $w0) (i32.mul (local.get $kj) (i32.load offset=44 (local.get $g)))))
                    (if (i32.lt_u (local.get $iw) (i32.load offset=4 (local.get $g)))
                      (then
                        (local.set $src (i32.add (i32.add (local.get $base) (local.get $col))
                          (i32.mul (i32.add (i32.mul (local.get $ih) (i32.load offset=4 (local.get $g))) (local.get $iw)) (i32.load offset=48 (local.get $g)))))
                        (if (local.get $mean)
                          (then
                            (local.set $c0 (f32x4.add (local.get $c0) (v128.load offset=0 (local.get $src))))
                            (local.set $c1 (f32x4.add (local.get $c1) (v128.load offset=16 (local.get $src)))))
                          (else
                            (local.set $c0 (f32x4.max (local.get $c0) (v128.load offset=0 (local.get $src))))
                            (local.set $c1 (f32x4.max (local.get $c1) (v128.load offset=16 (local.get $src))))))))
                    (local.set $kj (i32.add (local.get $kj) (i32.const 1)))
                    (br_if $cols (i32.lt_u (local.get $kj) (i32.load offset=20 (local.get $g)))))))
              (local.set $ki (i32.add (local.get $ki) (i32.const 1)))
              (br_if $rows (i32.lt_u (local.get $ki) (i32.load offset=16 (local.get $g)))))
            (if (local.get $mean)
              (then
                (local.set $c0 (f32x4.div (local.get $c0) (f32x4.splat (local.get $count))))
                (local.set $c1 (f32x4.div (local.get $c1) (f32x4.splat (local.get $count))))))
            (call $epilogue (local.get $d) (i32.add (local.get $x) (local.get $col)) (local.get $ep)
              (f32x4.add (local.get $c0) (v128.load offset=0 (local.get $ep)))
              (f32x4.add (local.get $c1) (v128.load offset=16 (local.get $ep)))
              (i32.add (local.get $out) (local.get $col)))
            (local.set $p (i32.add (local.get $p) (i32.const 1)))
            (br $panel)))
        (if (local.get $tail) (then (call $zero_pixel_tail (local.get $d) (local.get $out))))
        (local.set $m0 (i32.add (local.get $m0) (i32.const 1)))
        (br $pixel))))

  ;; This thread's share of an image step: ranges of 4 output pixels (a Winograd conv's: of 4 tiles;
  ;; the last thread takes the rest), or with few pixels, ranges of panels.
  (func $image_step (param $d i32) (param $thread i32) (param $threads i32)
    (local $g i32) (local $pixels i32) (local $groups i32) (local $panels i32)
    (local $m0 i32) (local $m1 i32) (local $p0 i32) (local $p1 i32) (local $scratch i32)
    (local.set $g (i32.load offset=76 (local.get $d)))
    (local.set $pixels (i32.mul (i32.load offset=4 (local.get $d))
      (i32.mul (i32.load offset=8 (local.get $g)) (i32.load offset=12 (local.get $g)))))
    ;; A Winograd conv's threads share its tiles of 2×2 output pixels (field 104 is 0 otherwise).
    (if (i32.load offset=104 (local.get $g)) (then (local.set $pixels (call $wino_tiles (local.get $d) (local.get $g)))))
    (local.set $panels (i32.load offset=8 (local.get $d)))
    (if (i32.eq (i32.load offset=52 (local.get $d)) (i32.const 1))
      (then
        (local.set $p0 (i32.div_u (i32.mul (local.get $panels) (local.get $thread)) (local.get $threads)))
        (local.set $p1 (i32.div_u (i32.mul (local.get $panels) (i32.add (local.get $thread) (i32.const 1))) (local.get $threads)))
        (local.set $m1 (local.get $pixels)))
      (else
        (local.set $groups (i32.shr_u (i32.add (local.get $pixels) (i32.const 3)) (i32.const 2)))
        (local.set $m0 (i32.shl (i32.div_u (i32.mul (local.get $groups) (local.get $thread)) (local.get $threads)) (i32.const 2)))
        (local.set $m1 (i32.shl (i32.div_u (i32.mul (local.get $groups) (i32.add (local.get $thread) (i32.const 1))) (local.get $threads)) (i32.const 2)))
        (if (i32.gt_u (local.get $m1) (local.get $pixels)) (then (local.set $m1 (local.get $pixels))))
        (local.set $p1 (local.get $panels))))
    (if (i32.or (i32.ge_u (local.get $m0) (local.get $m1)) (i32.ge_u (local.get $p0) (local.get $p1))) (then (return)))
    (if (i32.ne (i32.load (local.get $d)) (i32.const 3))
      (then (return (call $pool_rows (local.get $d) (local.get $m0) (local.get $m1) (local.get $p0) (local.get $p1)))))
    ;; A conv, on this thread's scratch.
    (local.set $scratch (i32.add (i32.load offset=32 (i32.const 0)) (i32.mul (local.get $thread) (i32.load offset=36 (i32.const 0)))))
    (if (i32.load offset=104 (local.get $g))
      (then (call $wino_rows (local.get $d) (local.get $m0) (local.get $m1) (local.get $p0) (local.get $p1) (local.get $scratch)))
      (else (call $conv_rows (local.get $d) (local.get $m0) (local.get $m1) (local.get $p0) (local.get $p1) (local.get $scratch)))))
