;; StableAdamW's per-element arithmetic (optim.ts) as a WebAssembly SIMD kernel, 4 lanes at a time.
;;
;; Every float32 operation of optim.ts's scalar loop is the same IEEE float32 operation here
;; (f32x4 add, mul, div and sqrt round exactly once, as Math.fround of the float64 result does),
;; in the same order, and the sum of squares is accumulated in float64 lane by lane in index
;; order, starting from the caller's running sum: the results are bit-identical to the scalar loop.
;;
;; The caller copies chunks of the arrays into this module's memory at byte offsets it chooses
;; (16-byte aligned), pads each chunk to a multiple of 4 elements with zeros (a zero lane adds
;; nothing to the sum and its outputs are not copied back), and calls:
;;   moments: p *= decay; m, v (and vmax) updated; denom = sqrt(second)/sqrtBc2 + eps;
;;            returns sum + Σ (g/denom)² (float64).
;;   apply:   p += (value · m) / denom.
;; Built into stableAdamWKernel.generated.ts by scripts/build-wasm.mjs.
(module
  (memory (export "memory") 1)

  (func $square (param $x f32) (result f64)
    (local $d f64)
    (local.set $d (f64.promote_f32 (local.get $x)))
    (f64.mul (local.get $d) (local.get $d)))

  (func (export "moments")
    (param $n i32) (param $p i32) (param $g i32) (param $m i32) (param $v i32) (param $vmax i32) (param $denom i32)
    (param $decay f32) (param $b1 f32) (param $c1 f32) (param $b2 f32) (param $c2 f32) (param $sqrtBc2 f32) (param $eps f32)
    (param $amsgrad i32) (param $sum f64)
    (result f64)
    (local $off i32) (local $end i32)
    (local $decay4 v128) (local $b14 v128) (local $c14 v128) (local $b24 v128) (local $c24 v128) (local $sq4 v128) (local $eps4 v128)
    (local $gi v128) (local $vi v128) (local $vm v128) (local $d v128) (local $r v128)
    (local.set $decay4 (f32x4.splat (local.get $decay)))
    (local.set $b14 (f32x4.splat (local.get $b1)))
    (local.set $c14 (f32x4.splat (local.get $c1)))
    (local.set $b24 (f32x4.splat (local.get $b2)))
    (local.set $c24 (f32x4.splat (local.get $c2)))
    (local.set $sq4 (f32x4.splat (local.get $sqrtBc2)))
    (local.set $eps4 (f32x4.splat (local.get $eps)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $off (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
        ;; p.mul_(1 - lr·wd)
        (v128.store (i32.add (local.get $p) (local.get $off))
          (f32x4.mul (v128.load (i32.add (local.get $p) (local.get $off))) (local.get $decay4)))
        (local.set $gi (v128.load (i32.add (local.get $g) (local.get $off))))
        ;; exp_avg·β1 + (1−β1)·g
        (v128.store (i32.add (local.get $m) (local.get $off))
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $m) (local.get $off))) (local.get $b14))
            (f32x4.mul (local.get $c14) (local.get $gi))))
        ;; exp_avg_sq·β2 + ((1−β2)·g)·g
        (local.set $vi
          (f32x4.add
            (f32x4.mul (v128.load (i32.add (local.get $v) (local.get $off))) (local.get $b24))
            (f32x4.mul (f32x4.mul (local.get $c24) (local.get $gi)) (local.get $gi))))
        (v128.store (i32.add (local.get $v) (local.get $off)) (local.get $vi))
        ;; amsgrad: vmax = vi > vmax ? vi : vmax (the scalar loop's comparison, NaN keeps vmax)
        (if (local.get $amsgrad)
          (then
            (local.set $vm (v128.load (i32.add (local.get $vmax) (local.get $off))))
            (local.set $vi (v128.bitselect (local.get $vi) (local.get $vm) (f32x4.gt (local.get $vi) (local.get $vm))))
            (v128.store (i32.add (local.get $vmax) (local.get $off)) (local.get $vi))))
        ;; denom = sqrt(second) / sqrt(bc2) + eps
        (local.set $d (f32x4.add (f32x4.div (f32x4.sqrt (local.get $vi)) (local.get $sq4)) (local.get $eps4)))
        (v128.store (i32.add (local.get $denom) (local.get $off)) (local.get $d))
        ;; sum += (g / denom)², lanes in index order, in float64
        (local.set $r (f32x4.div (local.get $gi) (local.get $d)))
        (local.set $sum (f64.add (local.get $sum) (call $square (f32x4.extract_lane 0 (local.get $r)))))
        (local.set $sum (f64.add (local.get $sum) (call $square (f32x4.extract_lane 1 (local.get $r)))))
        (local.set $sum (f64.add (local.get $sum) (call $square (f32x4.extract_lane 2 (local.get $r)))))
        (local.set $sum (f64.add (local.get $sum) (call $square (f32x4.extract_lane 3 (local.get $r)))))
        (local.set $off (i32.add (local.get $off) (i32.const 16)))
        (br $next)))
    (local.get $sum))

  (func (export "apply")
    (param $n i32) (param $p i32) (param $m i32) (param $denom i32) (param $value f32)
    (local $off i32) (local $end i32) (local $value4 v128)
    (local.set $value4 (f32x4.splat (local.get $value)))
    (local.set $end (i32.shl (local.get $n) (i32.const 2)))
    (local.set $off (i32.const 0))
    (block $done
      (loop $next
        (br_if $done (i32.ge_u (local.get $off) (local.get $end)))
        ;; p.addcdiv_(exp_avg, denom, value=−step_size)
        (v128.store (i32.add (local.get $p) (local.get $off))
          (f32x4.add
            (v128.load (i32.add (local.get $p) (local.get $off)))
            (f32x4.div (f32x4.mul (local.get $value4) (v128.load (i32.add (local.get $m) (local.get $off))))
                       (v128.load (i32.add (local.get $denom) (local.get $off))))))
        (local.set $off (i32.add (local.get $off) (i32.const 16)))
        (br $next))))
)
