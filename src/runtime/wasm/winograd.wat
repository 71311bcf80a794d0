;; Winograd F(2×2, 3×3): the 3×3 stride-1 convs of image.wat (a conv step whose geometry field
;; 104, tiles per block, is not 0; geometry.ts says which convs fit, pack.ts transforms their
;; weights). Part of gemm.wat's module (spliced in where gemm.wat says (include "winograd.wat")).
;;
  ;; Each tile of 2×2 output pixels reads a 4×4 input patch d, and
  ;;   Y = Aᵀ·[Σ_c (Bᵀ·d_c·B) ⊙ U_c]·A,   U_c = G·g_c·Gᵀ,
  ;; so the 36 multiply-adds per channel pair of the direct sum become 16: for each of the 16
  ;; entries ξ of the 4×4 transforms, a GEMM of the block's tiles (V_ξ: tiles × k1) by U_ξ (k1 × 8
  ;; per panel), on the 4×8 register tile. Every output's sum runs over channels in order, then
  ;; the fixed output transform: bits independent of the batch and the threads. The transforms
  ;; add and subtract only; a NaN in a patch reaches exactly the outputs whose window holds it,
  ;; but ±Inf there can come out as NaN where the direct sum gives ±Inf (Inf − Inf in Bᵀ·d·B).
  ;; A thread's scratch: the patch's 16 input addresses (64 bytes), the block's V (16 × tiles ×
  ;; k1 floats), then its products M (16 × tiles × 8 floats).

  ;; Row r of a patch's transform, over the k1 floats a pixel: t_j = d[x][j] + s·d[y][j] (s = ±1;
  ;; (x, y, s) = (0, 2, −1), (1, 2, 1), (2, 1, −1), (1, 3, −1) for r = 0…3: Bᵀ·d), then
  ;; V[r][0…3] = t0 − t2, t1 + t2, t2 − t1, t1 − t3 (·B), stored every vs bytes from dst.
  (func $wino_in_row (param $tx i32) (param $ty i32) (param $s v128) (param $bytes i32) (param $dst i32) (param $vs i32)
    (local $x0 i32) (local $x1 i32) (local $x2 i32) (local $x3 i32) (local $y0 i32) (local $y1 i32) (local $y2 i32) (local $y3 i32)
    (local $c i32) (local $t0 v128) (local $t1 v128) (local $t2 v128) (local $t3 v128)
    (local.set $x0 (i32.load offset=0 (local.get $tx))) (local.set $x1 (i32.load offset=4 (local.get $tx)))
    (local.set $x2 (i32.load offset=8 (local.get $tx))) (local.set $x3 (i32.load offset=12 (local.get $tx)))
    (local.set $y0 (i32.load offset=0 (local.get $ty))) (local.set $y1 (i32.load offset=4 (local.get $ty)))
    (local.set $y2 (i32.load offset=8 (local.get $ty))) (local.set $y3 (i32.load offset=12 (local.get $ty)))
    (loop $channels
      (local.set $t0 (f32x4.add (v128.load (i32.add (local.get $x0) (local.get $c))) (f32x4.mul (v128.load (i32.add (local.get $y0) (local.get $c))) (local.get $s))))
      (local.set $t1 (f32x4.add (v128.load (i32.add (local.get $x1) (local.get $c))) (f32x4.mul (v128.load (i32.add (local.get $y1) (local.get $c))) (local.get $s))))
      (local.set $t2 (f32x4.add (v128.load (i32.add (local.get $x2) (local.get $c))) (f32x4.mul (v128.load (i32.add (local.get $y2) (local.get $c))) (local.get $s))))
      (local.set $t3 (f32x4.add (v128.load (i32.add (local.get $x3) (local.get $c))) (f32x4.mul (v128.load (i32.add (local.get $y3) (local.get $c))) (local.get $s))))
      (v128.store (i32.add (local.get $dst) (local.get $c)) (f32x4.sub (local.get $t0) (local.get $t2)))
      (v128.store (i32.add (i32.add (local.get $dst) (local.get $vs)) (local.get $c)) (f32x4.add (local.get $t1) (local.get $t2)))
      (v128.store (i32.add (i32.add (local.get $dst) (i32.shl (local.get $vs) (i32.const 1))) (local.get $c)) (f32x4.sub (local.get $t2) (local.get $t1)))
      (v128.store (i32.add (i32.add (local.get $dst) (i32.mul (local.get $vs) (i32.const 3))) (local.get $c)) (f32x4.sub (local.get $t1) (local.get $t3)))
      (local.set $c (i32.add (local.get $c) (i32.const 16)))
      (br_if $channels (i32.lt_u (local.get $c) (local.get $bytes)))))

  ;; Tile t's batch row, tile row and tile column, as (b, th, tw) in the three locals' order.
  (func $wino_tile_at (param $g i32) (param $t i32) (result i32 i32 i32)
    (local $tw i32) (local $plane i32) (local $q i32) (local $b i32)
    (local.set $tw (i32.shr_u (i32.add (i32.load offset=12 (local.get $g)) (i32.const 1)) (i32.const 1)))
    (local.set $plane (i32.mul (local.get $tw) (i32.shr_u (i32.add (i32.load offset=8 (local.get $g)) (i32.const 1)) (i32.const 1))))
    (local.set $b (i32.div_u (local.get $t) (local.get $plane)))
    (local.set $q (i32.sub (local.get $t) (i32.mul (local.get $b) (local.get $plane))))
    (local.get $b)
    (i32.div_u (local.get $q) (local.get $tw))
    (i32.rem_u (local.get $q) (local.get $tw)))

  ;; The step's tiles: its batch rows' ⌈OH/2⌉·⌈OW/2⌉ each.
  (func $wino_tiles (param $d i32) (param $g i32) (result i32)
    (i32.mul (i32.load offset=4 (local.get $d))
      (i32.mul (i32.shr_u (i32.add (i32.load offset=8 (local.get $g)) (i32.const 1)) (i32.const 1))
        (i32.shr_u (i32.add (i32.load offset=12 (local.get $g)) (i32.const 1)) (i32.const 1)))))

  ;; Tile t's transformed patch V (16 × k1 floats, ξ every vs bytes from dst): its 16 input pixel
  ;; addresses (the zero row outside the input) to the table tab, then the 4 rows.
  (func $wino_input (param $d i32) (param $g i32) (param $t i32) (param $tab i32) (param $dst i32) (param $vs i32)
    (local $b i32) (local $th i32) (local $tw i32) (local $base i32) (local $ih i32) (local $iw i32) (local $i i32) (local $bytes i32)
    (call $wino_tile_at (local.get $g) (local.get $t))
    (local.set $tw) (local.set $th) (local.set $b)
    (local.set $base (i32.add (i32.load offset=12 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=16 (local.get $d)))))
    (loop $patch
      ;; Unsigned compares: a negative coordinate is past the end too.
      (local.set $ih (i32.add (i32.sub (i32.shl (local.get $th) (i32.const 1)) (i32.load offset=32 (local.get $g))) (i32.shr_u (local.get $i) (i32.const 2))))
      (local.set $iw (i32.add (i32.sub (i32.shl (local.get $tw) (i32.const 1)) (i32.load offset=36 (local.get $g))) (i32.and (local.get $i) (i32.const 3))))
      (i32.store (i32.add (local.get $tab) (i32.shl (local.get $i) (i32.const 2)))
        (select
          (i32.add (local.get $base) (i32.mul (i32.add (i32.mul (local.get $ih) (i32.load offset=4 (local.get $g))) (local.get $iw)) (i32.load offset=48 (local.get $g))))
          (i32.load offset=88 (local.get $g))
          (i32.and (i32.lt_u (local.get $ih) (i32.load offset=0 (local.get $g))) (i32.lt_u (local.get $iw) (i32.load offset=4 (local.get $g))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $patch (i32.lt_u (local.get $i) (i32.const 16))))
    (local.set $bytes (i32.shl (i32.load offset=20 (local.get $d)) (i32.const 2)))
    (call $wino_in_row (local.get $tab) (i32.add (local.get $tab) (i32.const 32)) (v128.const f32x4 -1 -1 -1 -1) (local.get $bytes)
      (local.get $dst) (local.get $vs))
    (call $wino_in_row (i32.add (local.get $tab) (i32.const 16)) (i32.add (local.get $tab) (i32.const 32)) (v128.const f32x4 1 1 1 1) (local.get $bytes)
      (i32.add (local.get $dst) (i32.shl (local.get $vs) (i32.const 2))) (local.get $vs))
    (call $wino_in_row (i32.add (local.get $tab) (i32.const 32)) (i32.add (local.get $tab) (i32.const 16)) (v128.const f32x4 -1 -1 -1 -1) (local.get $bytes)
      (i32.add (local.get $dst) (i32.shl (local.get $vs) (i32.const 3))) (local.get $vs))
    (call $wino_in_row (i32.add (local.get $tab) (i32.const 16)) (i32.add (local.get $tab) (i32.const 48)) (v128.const f32x4 -1 -1 -1 -1) (local.get $bytes)
      (i32.add (local.get $dst) (i32.mul (local.get $vs) (i32.const 12))) (local.get $vs)))

  ;; 4 tiles × 8 channels of one ξ: rows a, a + lda, … (k floats each) against the panel w; the
  ;; sums, from 0, stored 32 bytes a tile from out.
  (func $wino_tile4 (param $a i32) (param $lda i32) (param $k i32) (param $w i32) (param $out i32)
    (local $a0 i32) (local $a1 i32) (local $a2 i32) (local $a3 i32) (local $end i32)
    (local $c00 v128) (local $c01 v128) (local $c10 v128) (local $c11 v128)
    (local $c20 v128) (local $c21 v128) (local $c30 v128) (local $c31 v128)
    (local $b0 v128) (local $b1 v128) (local $v v128)
    (local.set $a0 (local.get $a))
    (local.set $a1 (i32.add (local.get $a0) (local.get $lda)))
    (local.set $a2 (i32.add (local.get $a1) (local.get $lda)))
    (local.set $a3 (i32.add (local.get $a2) (local.get $lda)))
    (local.set $end (i32.add (local.get $a) (i32.shl (local.get $k) (i32.const 2))))
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
    (v128.store offset=0 (local.get $out) (local.get $c00)) (v128.store offset=16 (local.get $out) (local.get $c01))
    (v128.store offset=32 (local.get $out) (local.get $c10)) (v128.store offset=48 (local.get $out) (local.get $c11))
    (v128.store offset=64 (local.get $out) (local.get $c20)) (v128.store offset=80 (local.get $out) (local.get $c21))
    (v128.store offset=96 (local.get $out) (local.get $c30)) (v128.store offset=112 (local.get $out) (local.get $c31)))

  ;; The output transform Aᵀ·M·A (Aᵀ = [1 1 1 0; 0 1 −1 −1]) of 4 channels: M[ξ] every ms bytes
  ;; from m, ξ = 4·row + column; Y00, Y01, Y10, Y11 written over M[0…3] (all read first).
  (func $wino_out4 (param $m i32) (param $ms i32)
    (local $r1 i32) (local $r2 i32) (local $r3 i32) (local $c i32)
    (local $s0 v128) (local $s1 v128) (local $a0 v128) (local $a1 v128) (local $a2 v128) (local $b1 v128) (local $b2 v128)
    (local $y00 v128) (local $y01 v128) (local $y10 v128) (local $y11 v128)
    (local.set $r1 (i32.shl (local.get $ms) (i32.const 2)))
    (local.set $r2 (i32.shl (local.get $ms) (i32.const 3)))
    (local.set $r3 (i32.mul (local.get $ms) (i32.const 12)))
    ;; Column c of Aᵀ·M: s0 = M[c] + M[4 + c] + M[8 + c], s1 = M[4 + c] − M[8 + c] − M[12 + c];
    ;; then Y0j and Y1j from the columns (a of s0, b of s1): y·0 = col0 + col1 + col2, y·1 = col1 − col2 − col3.
    (loop $column
      (local.set $s0 (f32x4.add (f32x4.add (v128.load (local.get $m)) (v128.load (i32.add (local.get $m) (local.get $r1))))
        (v128.load (i32.add (local.get $m) (local.get $r2)))))
      (local.set $s1 (f32x4.sub (f32x4.sub (v128.load (i32.add (local.get $m) (local.get $r1))) (v128.load (i32.add (local.get $m) (local.get $r2))))
        (v128.load (i32.add (local.get $m) (local.get $r3)))))
      (if (i32.eqz (local.get $c))
        (then (local.set $y00 (local.get $s0)) (local.set $y10 (local.get $s1))))
      (if (i32.eq (local.get $c) (i32.const 1))
        (then
          (local.set $y00 (f32x4.add (local.get $y00) (local.get $s0))) (local.set $y10 (f32x4.add (local.get $y10) (local.get $s1)))
          (local.set $y01 (local.get $s0)) (local.set $y11 (local.get $s1))))
      (if (i32.eq (local.get $c) (i32.const 2))
        (then
          (local.set $y00 (f32x4.add (local.get $y00) (local.get $s0))) (local.set $y10 (f32x4.add (local.get $y10) (local.get $s1)))
          (local.set $y01 (f32x4.sub (local.get $y01) (local.get $s0))) (local.set $y11 (f32x4.sub (local.get $y11) (local.get $s1)))))
      (if (i32.eq (local.get $c) (i32.const 3))
        (then
          (local.set $y01 (f32x4.sub (local.get $y01) (local.get $s0))) (local.set $y11 (f32x4.sub (local.get $y11) (local.get $s1)))))
      (local.set $m (i32.add (local.get $m) (local.get $ms)))
      (local.set $c (i32.add (local.get $c) (i32.const 1)))
      (br_if $column (i32.lt_u (local.get $c) (i32.const 4))))
    (local.set $m (i32.sub (local.get $m) (i32.shl (local.get $ms) (i32.const 2))))
    (v128.store (local.get $m) (local.get $y00))
    (v128.store (i32.add (local.get $m) (local.get $ms)) (local.get $y01))
    (v128.store (i32.add (local.get $m) (i32.shl (local.get $ms) (i32.const 1))) (local.get $y10))
    (v128.store (i32.add (local.get $m) (i32.mul (local.get $ms) (i32.const 3))) (local.get $y11)))

  ;; Tile t's outputs for the panel at column byte col: the transform of its 8 channels, then
  ;; per output pixel inside the image, + bias and the epilogue (the padding channels zeroed
  ;; after the last panel, when `tail`).
  (func $wino_output (param $d i32) (param $g i32) (param $t i32) (param $m i32) (param $ms i32) (param $col i32) (param $ep i32) (param $tail i32)
    (local $b i32) (local $th i32) (local $tw i32) (local $i i32) (local $oh i32) (local $ow i32) (local $q i32) (local $out i32) (local $y i32)
    (call $wino_out4 (local.get $m) (local.get $ms))
    (call $wino_out4 (i32.add (local.get $m) (i32.const 16)) (local.get $ms))
    (call $wino_tile_at (local.get $g) (local.get $t))
    (local.set $tw) (local.set $th) (local.set $b)
    (loop $pixel
      (local.set $oh (i32.add (i32.shl (local.get $th) (i32.const 1)) (i32.shr_u (local.get $i) (i32.const 1))))
      (local.set $ow (i32.add (i32.shl (local.get $tw) (i32.const 1)) (i32.and (local.get $i) (i32.const 1))))
      (if (i32.and (i32.lt_u (local.get $oh) (i32.load offset=8 (local.get $g))) (i32.lt_u (local.get $ow) (i32.load offset=12 (local.get $g))))
        (then
          (local.set $q (i32.add (i32.mul (local.get $oh) (i32.load offset=12 (local.get $g))) (local.get $ow)))
          (local.set $out (i32.add (i32.add (i32.load offset=44 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=48 (local.get $d))))
            (i32.mul (local.get $q) (i32.load offset=52 (local.get $g)))))
          (local.set $y (i32.add (local.get $m) (i32.mul (local.get $i) (local.get $ms))))
          (call $epilogue (local.get $d)
            (i32.add (i32.add (i32.add (i32.load offset=24 (local.get $d)) (i32.mul (local.get $b) (i32.load offset=28 (local.get $d))))
              (i32.mul (local.get $q) (i32.load offset=56 (local.get $g)))) (local.get $col))
            (local.get $ep)
            (f32x4.add (v128.load offset=0 (local.get $y)) (v128.load offset=0 (local.get $ep)))
            (f32x4.add (v128.load offset=16 (local.get $y)) (v128.load offset=16 (local.get $ep)))
            (i32.add (local.get $out) (local.get $col)))
          (if (local.get $tail) (then (call $zero_pixel_tail (local.get $d) (local.get $out))))))
      (local.set $i (i32.add (local.get $i) (i32.const 1)))
      (br_if $pixel (i32.lt_u (local.get $i) (i32.const 4)))))

  ;; A Winograd conv on tiles [t0, t1) × panels [p0, p1), in blocks of tiles: a block's patches
  ;; are transformed once, then every panel runs its 16 GEMMs over them and transforms back.
  (func $wino_rows (param $d i32) (param $t0 i32) (param $t1 i32) (param $p0 i32) (param $p1 i32) (param $scratch i32)
    (local $g i32) (local $per i32) (local $k1 i32) (local $kbytes i32) (local $vs i32) (local $v i32) (local $mb i32)
    (local $tb i32) (local $count i32) (local $i i32) (local $p i32) (local $x i32) (local $wp i32) (local $tail i32)
    (local.set $g (i32.load offset=76 (local.get $d)))
    (local.set $per (i32.load offset=104 (local.get $g)))
    (local.set $k1 (i32.load offset=20 (local.get $d)))
    (local.set $kbytes (i32.shl (local.get $k1) (i32.const 2)))
    (local.set $vs (i32.mul (local.get $per) (local.get $kbytes)))
    (local.set $v (i32.add (local.get $scratch) (i32.const 64)))
    (local.set $mb (i32.add (local.get $v) (i32.shl (local.get $vs) (i32.const 4))))
    (local.set $tail (i32.and (i32.eq (local.get $p1) (i32.load offset=8 (local.get $d)))
      (i32.lt_u (i32.load offset=64 (local.get $d)) (i32.shl (local.get $p1) (i32.const 3)))))
    (local.set $tb (local.get $t0))
    (block $blocks_done
      (loop $block
        (br_if $blocks_done (i32.ge_u (local.get $tb) (local.get $t1)))
        (local.set $count (i32.sub (local.get $t1) (local.get $tb)))
        (if (i32.gt_u (local.get $count) (local.get $per)) (then (local.set $count (local.get $per))))
        (local.set $i (i32.const 0))
        (loop $transform
          (call $wino_input (local.get $d) (local.get $g) (i32.add (local.get $tb) (local.get $i)) (local.get $scratch)
            (i32.add (local.get $v) (i32.mul (local.get $i) (local.get $kbytes))) (local.get $vs))
          (local.set $i (i32.add (local.get $i) (i32.const 1)))
          (br_if $transform (i32.lt_u (local.get $i) (local.get $count))))
        (local.set $p (local.get $p0))
        (loop $panel
          (local.set $wp (i32.add (i32.load offset=36 (local.get $d)) (i32.mul (local.get $p) (i32.shl (local.get $kbytes) (i32.const 7)))))
          ;; ξ runs over the 16 GEMMs; each passes over the block's tiles 4 at a time (past
          ;; `count`, rows of the scratch that no output reads).
          (local.set $x (i32.const 0))
          (loop $xi
            (local.set $i (i32.const 0))
            (loop $tiles
              (call $wino_tile4
                (i32.add (i32.add (local.get $v) (i32.mul (local.get $x) (local.get $vs))) (i32.mul (local.get $i) (local.get $kbytes)))
                (local.get $kbytes) (local.get $k1)
                (i32.add (local.get $wp) (i32.mul (local.get $x) (i32.shl (local.get $kbytes) (i32.const 3))))
                (i32.add (local.get $mb) (i32.shl (i32.add (i32.mul (local.get $x) (local.get $per)) (local.get $i)) (i32.const 5))))
              (local.set $i (i32.add (local.get $i) (i32.const 4)))
              (br_if $tiles (i32.lt_u (local.get $i) (local.get $count))))
            (local.set $x (i32.add (local.get $x) (i32.const 1)))
            (br_if $xi (i32.lt_u (local.get $x) (i32.const 16))))
          (local.set $i (i32.const 0))
          (loop $outputs
            (call $wino_output (local.get $d) (local.get $g) (i32.add (local.get $tb) (local.get $i))
              (i32.add (local.get $mb) (i32.shl (local.get $i) (i32.const 5))) (i32.shl (local.get $per) (i32.const 5))
              (i32.shl (local.get $p) (i32.const 5))
              (i32.add (i32.load offset=40 (local.get $d)) (i32.mul (local.get $p) (i32.const 96)))
              (i32.and (local.get $tail) (i32.eq (i32.add (local.get $p) (i32.const 1)) (local.get $p1))))
            (local.set $i (i32.add (local.get $i) (i32.const 1)))
            (br_if $outputs (i32.lt_u (local.get $i) (local.get $count))))
          (local.set $p (i32.add (local.get $p) (i32.const 1)))
          (br_if $panel (i32.lt_u (local.get $p) (local.get $p1))))
        (local.set $tb (i32.add (local.get $tb) (local.get $count)))
        (br $block))))
