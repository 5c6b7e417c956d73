//! Dense layers in int8 arithmetic: weights quantised once at load (one scale per output),
//! each input row quantised as it arrives (its own scale and zero point), products summed in
//! exact 32-bit integers and scaled back to f32.
//!
//! Why: a search query's embedding is a few tokens through every weight of the model, and in
//! f32 that pass was compute-bound (a 16-query pass at ~55 GFLOP/s, 1.5 ms of CPU a query,
//! more than a whole lexical search). AVX-512 VNNI's `vpdpbusd` multiplies 64 byte pairs and
//! adds them into sixteen 32-bit sums in one instruction, four times the multiply-adds of an
//! f32 FMA of the same width, and int8 weights are a quarter of f32's memory.
//!
//! Only where the CPU has AVX-512 VNNI ([`available`]); elsewhere the model keeps its f32
//! arithmetic on bfloat16 weights ([`crate::Packed`]), which is faster there than int8 by
//! other means (measured for all-MiniLM-L6-v2's six layers, a query of 7 tokens: AVX2's
//! `vpmaddwd` on widened bytes 3.3–3.9 ms, plain loops 26–36 ms, against 0.6–0.7 ms by VNNI and
//! ~2.2 ms in f32). The integer sums are exact; a test holds them to plain loops.
//!
//! Quantisation (as ONNX Runtime's dynamic quantisation does it): weights symmetric, `w ≈ sw ·
//! q` with `q` in −127..=127 and `sw = max|w| / 127` per output; inputs asymmetric, `x ≈ sx ·
//! (u − z)` with `u` in 0..=255 over the row's own range (widened to include 0, so that 0 is
//! exact). Then `x · w ≈ sx · sw · (Σ u·q − z · Σ q)`, with `Σ q` kept per output.

/// Outputs per panel: four 512-bit registers of sixteen 32-bit sums.
const PANEL: usize = 64;
/// Inputs per 32-bit lane of `vpdpbusd`: four bytes of a row times four of a weight column.
const QUAD: usize = 4;
/// Bytes of one panel step: `PANEL` outputs × `QUAD` inputs.
const STEP: usize = PANEL * QUAD;

/// A dense layer's weights quantised to int8 and packed for [`dense`]: panels of 64 outputs;
/// within a panel, for each group of four inputs, each output's four weights side by side (the
/// layout `vpdpbusd` multiplies against four broadcast input bytes).
pub struct Packed8 {
    panels: Vec<i8>,
    /// Per output (panels padded to whole panels with zero weights): the weight scale.
    scales: Vec<f32>,
    /// Per output: the sum of its quantised weights, for the input's zero point.
    sums: Vec<i32>,
    bias: Vec<f32>,
    n: usize,
    k: usize,
}

impl Packed8 {
    /// Quantises and packs `w`, `[n, k]` row-major as checkpoints store it (`n = bias.len()`).
    pub fn new(w: &[f32], bias: Vec<f32>) -> Packed8 {
        let n = bias.len();
        let k = w.len().checked_div(n).unwrap_or(0);
        let (quads, np) = (k.div_ceil(QUAD), n.div_ceil(PANEL));
        let mut panels = vec![0i8; np * quads * STEP];
        let mut scales = vec![0f32; np * PANEL];
        let mut sums = vec![0i32; np * PANEL];
        for (o, row) in w.chunks_exact(k.max(1)).enumerate().take(n) {
            let (scale, q) = crate::int8::quantize(row);
            scales[o] = scale;
            sums[o] = q.iter().map(|&q| i32::from(q)).sum();
            let (p, j) = (o / PANEL, o % PANEL);
            for (i, q) in q.into_iter().enumerate() {
                panels[(p * quads + i / QUAD) * STEP + j * QUAD + i % QUAD] = q;
            }
        }
        Packed8 {
            panels,
            scales,
            sums,
            bias,
            n,
            k,
        }
    }

    /// Outputs per row.
    pub fn outputs(&self) -> usize {
        self.n
    }

    /// Inputs per row.
    pub fn inputs(&self) -> usize {
        self.k
    }

    fn quads(&self) -> usize {
        self.k.div_ceil(QUAD)
    }

    fn panel(&self, p: usize) -> &[i8] {
        let len = self.quads() * STEP;
        &self.panels[p * len..(p + 1) * len]
    }
}

/// The lowest and highest value of `row`, widened to include 0.
#[cfg(test)]
fn range(row: &[f32]) -> (f32, f32) {
    row.iter()
        .fold((0f32, 0f32), |(lo, hi), &v| (lo.min(v), hi.max(v)))
}

/// Input rows quantised to bytes, each row's four-byte groups as one `u32` (what `vpdpbusd`
/// broadcasts), with the row's scale and zero point.
pub struct Rows {
    quads: Vec<u32>,
    scale: Vec<f32>,
    zero: Vec<i32>,
    width: usize,
}

/// A row's scale and zero point for its range: `x ≈ s · (u − z)`, with the lowest value at
/// byte 0 and the highest at 255 (a constant row gets scale 1).
#[inline(always)]
fn scale_and_zero(lo: f32, hi: f32) -> (f32, f32) {
    let s = if hi > lo { (hi - lo) / 255.0 } else { 1.0 };
    (s, (-lo / s + 0.5).floor().clamp(0.0, 255.0))
}

impl Rows {
    /// Quantises each `k`-wide row of `x` by `row`, which writes a row's bytes (`u = v / s + z`
    /// rounded, computed as `v · (1/s) + (z + ½)` in one fused multiply-add, then truncated)
    /// and returns its scale and zero point.
    #[inline(always)]
    fn quantise_by(x: &[f32], k: usize, row: impl Fn(&[f32], &mut [u8]) -> (f32, f32)) -> Rows {
        let width = k.div_ceil(QUAD);
        let rows = x.len().checked_div(k).unwrap_or(0);
        // Padding inputs meet zero weights; their value does not matter.
        let mut quads = vec![0u32; rows * width];
        let mut scale = Vec::with_capacity(rows);
        let mut zero = Vec::with_capacity(rows);
        for (r, values) in x.chunks_exact(k.max(1)).enumerate().take(rows) {
            let bytes: &mut [u8] = bytemuck::cast_slice_mut(&mut quads[r * width..(r + 1) * width]);
            let (s, z) = row(values, &mut bytes[..k]);
            scale.push(s);
            zero.push(z as i32);
        }
        Rows {
            quads,
            scale,
            zero,
            width,
        }
    }

    /// [`Rows::quantise_by`] in plain loops: what the AVX-512 quantiser is held to.
    #[cfg(test)]
    fn quantise(x: &[f32], k: usize) -> Rows {
        Rows::quantise_by(x, k, |values, bytes| {
            let (lo, hi) = range(values);
            let (s, z) = scale_and_zero(lo, hi);
            let (inv, shift) = (1.0 / s, z + 0.5);
            for (b, &v) in bytes.iter_mut().zip(values) {
                *b = v.mul_add(inv, shift).clamp(0.0, 255.0) as u8;
            }
            (s, z)
        })
    }

    fn len(&self) -> usize {
        self.scale.len()
    }

    fn row(&self, r: usize) -> &[u32] {
        &self.quads[r * self.width..(r + 1) * self.width]
    }

    /// The quantised bytes of row `r` (its padding included).
    #[cfg(test)]
    fn bytes(&self, r: usize) -> Vec<u8> {
        self.row(r).iter().flat_map(|q| q.to_le_bytes()).collect()
    }
}

/// Whether this CPU has AVX-512 VNNI (and the AVX-512 it builds on): [`dense`] needs it.
pub fn available() -> bool {
    #[cfg(target_arch = "x86_64")]
    {
        vnni::available()
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        false
    }
}

/// `y = x wᵀ + bias` for `x` of `[rows, k]`, in int8 arithmetic, split by tiles of rows across
/// rayon's threads when there are many (a batch of notes).
///
/// # Panics
/// Where the CPU lacks AVX-512 VNNI (see [`available`]).
pub fn dense(x: &[f32], w: &Packed8, y: &mut [f32]) {
    crate::by_row_tiles(x, w.k, y, w.n, |x, y| few_rows(x, w, y));
}

/// Panel `p`'s outputs of every row, from its integer sums: `sx · sw · (Σ u·q − z · Σ q) + b`.
#[inline(always)]
fn scale_back(q: &Rows, w: &Packed8, p: usize, sums: &[i32], y: &mut [f32]) {
    let n = w.n;
    let at = p * PANEL;
    let width = PANEL.min(n - at);
    let (scales, wsums, bias) = (
        &w.scales[at..at + width],
        &w.sums[at..at + width],
        &w.bias[at..at + width],
    );
    for r in 0..q.len() {
        let (sx, zx) = (q.scale[r], q.zero[r]);
        let out = &mut y[r * n + at..][..width];
        let s = &sums[r * PANEL..][..width];
        for ((((o, &s), &sw), &ws), &b) in out.iter_mut().zip(s).zip(scales).zip(wsums).zip(bias) {
            *o = sx * sw * (s - zx * ws) as f32 + b;
        }
    }
}

/// The layer for a few rows on this thread: quantised, multiplied panel by panel, scaled back.
fn few_rows(x: &[f32], w: &Packed8, y: &mut [f32]) {
    #[cfg(target_arch = "x86_64")]
    vnni::layer(x, w, y);
    #[cfg(not(target_arch = "x86_64"))]
    {
        let _ = (x, w, y);
        panic!("int8 products need AVX-512 VNNI");
    }
}

#[cfg(target_arch = "x86_64")]
mod vnni {
    use super::{PANEL, Packed8, Rows, STEP};
    use std::arch::x86_64::{
        __m128i, __m512, __m512i, _mm512_cvtepi32_epi8, _mm512_cvttps_epi32, _mm512_dpbusd_epi32,
        _mm512_fmadd_ps, _mm512_max_ps, _mm512_min_ps, _mm512_reduce_max_ps, _mm512_reduce_min_ps,
        _mm512_set1_epi32, _mm512_set1_ps, _mm512_setzero_ps, _mm512_setzero_si512,
    };

    pub(super) fn available() -> bool {
        std::arch::is_x86_feature_detected!("avx512f")
            && std::arch::is_x86_feature_detected!("avx512bw")
            && std::arch::is_x86_feature_detected!("avx512vnni")
    }

    /// A dense layer for a few rows: quantised, multiplied panel by panel, scaled back, all of
    /// it compiled for AVX-512.
    pub(super) fn layer(x: &[f32], w: &Packed8, y: &mut [f32]) {
        assert!(available(), "VNNI products on a CPU without AVX-512 VNNI");
        // SAFETY: the one requirement of a `target_feature` function is that the CPU has the
        // features, checked just above.
        #[allow(unsafe_code)]
        unsafe {
            layer_vnni(x, w, y)
        }
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    fn layer_vnni(x: &[f32], w: &Packed8, y: &mut [f32]) {
        let q = quantise(x, w.k);
        let mut sums = vec![0i32; q.len() * PANEL];
        for p in 0..w.n.div_ceil(PANEL) {
            rows(&q, w.panel(p), &mut sums);
            super::scale_back(&q, w, p, &sums, y);
        }
    }

    /// [`Rows::quantise_by`] sixteen values an instruction. The compiler's own vectorising of
    /// the plain loops left quantising at an eighth of a query's pass, as much as attention.
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn quantise(x: &[f32], k: usize) -> Rows {
        Rows::quantise_by(x, k, |values, bytes| {
            // The last, partial block padded with zeros: the range includes 0 anyway.
            let (blocks, rest) = values.as_chunks::<16>();
            let mut last = [0f32; 16];
            last[..rest.len()].copy_from_slice(rest);
            let all = || blocks.iter().chain(std::iter::once(&last));
            let (mut lo, mut hi) = (_mm512_setzero_ps(), _mm512_setzero_ps());
            for b in all() {
                let v: __m512 = bytemuck::cast(*b);
                lo = _mm512_min_ps(lo, v);
                hi = _mm512_max_ps(hi, v);
            }
            let (s, z) = super::scale_and_zero(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi));
            let (inv, shift) = (_mm512_set1_ps(1.0 / s), _mm512_set1_ps(z + 0.5));
            let (floor, ceiling) = (_mm512_setzero_ps(), _mm512_set1_ps(255.0));
            let to_bytes = |b: &[f32; 16]| -> [u8; 16] {
                let v: __m512 = bytemuck::cast(*b);
                let u = _mm512_min_ps(
                    _mm512_max_ps(_mm512_fmadd_ps(v, inv, shift), floor),
                    ceiling,
                );
                bytemuck::cast::<__m128i, _>(_mm512_cvtepi32_epi8(_mm512_cvttps_epi32(u)))
            };
            let (whole, tail) = bytes.as_chunks_mut::<16>();
            for (o, b) in whole.iter_mut().zip(blocks) {
                *o = to_bytes(b);
            }
            tail.copy_from_slice(&to_bytes(&last)[..tail.len()]);
            (s, z)
        })
    }

    /// The AVX-512 quantiser for the tests, which hold it to the plain loops.
    #[cfg(test)]
    pub(super) fn quantise_rows(x: &[f32], k: usize) -> Rows {
        assert!(available(), "AVX-512 quantising on a CPU without AVX-512");
        // SAFETY: as in `layer`.
        #[allow(unsafe_code)]
        unsafe {
            quantise(x, k)
        }
    }

    /// [`rows`] for the tests, which hold its sums to plain loops.
    #[cfg(test)]
    pub(super) fn products(q: &Rows, panel: &[i8], out: &mut [i32]) {
        assert!(available(), "VNNI products on a CPU without AVX-512 VNNI");
        // SAFETY: as in `layer`.
        #[allow(unsafe_code)]
        unsafe {
            rows(q, panel, out)
        }
    }

    /// Every row of `q` against one panel, in tiles of up to six rows (24 sums in registers).
    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    pub(super) fn rows(q: &Rows, panel: &[i8], out: &mut [i32]) {
        macro_rules! tile {
            ($r:expr, $n:literal) => {{
                let r = $r;
                tile::<$n>(
                    std::array::from_fn(|i| q.row(r + i)),
                    panel,
                    &mut out[r * PANEL..],
                )
            }};
        }
        row_tiles!(q.len(), tile);
    }

    #[target_feature(enable = "avx512f,avx512bw,avx512vnni")]
    #[inline]
    fn tile<const R: usize>(xs: [&[u32]; R], panel: &[i8], out: &mut [i32]) {
        let steps: &[[i8; STEP]] = bytemuck::cast_slice(panel);
        let len = xs
            .iter()
            .map(|x| x.len())
            .min()
            .unwrap_or(0)
            .min(steps.len());
        let mut acc = [[_mm512_setzero_si512(); 4]; R];
        for (i, step) in steps[..len].iter().enumerate() {
            let w: [__m512i; 4] = bytemuck::cast(*step);
            for r in 0..R {
                let x = _mm512_set1_epi32(xs[r][i] as i32);
                for j in 0..4 {
                    acc[r][j] = _mm512_dpbusd_epi32(acc[r][j], x, w[j]);
                }
            }
        }
        for (r, a) in acc.iter().enumerate() {
            let sums: [i32; PANEL] = bytemuck::cast(*a);
            out[r * PANEL..(r + 1) * PANEL].copy_from_slice(&sums);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: u32) -> Vec<f32> {
        let mut s = seed.wrapping_mul(2_654_435_761).wrapping_add(1);
        (0..n)
            .map(|_| {
                s ^= s << 13;
                s ^= s >> 17;
                s ^= s << 5;
                (s % 20_001) as f32 / 10_000.0 - 1.0
            })
            .collect()
    }

    /// The packed weight of output `o`, input `i`.
    fn weight(w: &Packed8, o: usize, i: usize) -> i8 {
        let p = o / PANEL;
        w.panel(p)[(i / QUAD) * STEP + (o % PANEL) * QUAD + i % QUAD]
    }

    /// Whether the CPU can run the tests; says so when it cannot.
    fn can_run() -> bool {
        if !available() {
            eprintln!("no AVX-512 VNNI on this CPU: skipping the int8 products");
        }
        available()
    }

    #[test]
    fn vnni_products_are_the_plain_loops_exact_sums() {
        if !can_run() {
            return;
        }
        for &(rows, n, k) in &[
            (1, 64, 4),
            (5, 70, 9),
            (7, 130, 384),
            (13, 64, 1536),
            (6, 3, 1),
        ] {
            let w = Packed8::new(&values(n * k, 1), values(n, 2));
            let mut x = values(rows * k, 3);
            // Extremes: a row of one value and a row of the widest range.
            x[..k].fill(0.5);
            let q = Rows::quantise(&x, k);
            for p in 0..n.div_ceil(PANEL) {
                let mut want = vec![0i32; rows * PANEL];
                for r in 0..rows {
                    let bytes = q.bytes(r);
                    for j in 0..PANEL {
                        want[r * PANEL + j] = (0..k)
                            .map(|i| i32::from(bytes[i]) * i32::from(weight(&w, p * PANEL + j, i)))
                            .sum();
                    }
                }
                let mut got = vec![0i32; rows * PANEL];
                vnni::products(&q, w.panel(p), &mut got);
                assert_eq!(got, want, "{rows}×{k} by {n}, panel {p}");
            }
        }
    }

    #[test]
    fn the_avx512_quantiser_gives_the_plain_loops_bytes_scales_and_zero_points() {
        if !can_run() {
            return;
        }
        for (rows, k) in [
            (1, 1),
            (3, 3),
            (2, 16),
            (4, 17),
            (7, 384),
            (2, 410),
            (3, 1536),
        ] {
            let mut x: Vec<f32> = values(rows * k, 11).iter().map(|v| v * 7.0).collect();
            // A constant row, a row of one sign, a row whose extremes sit in the tail.
            x[..k].fill(0.25);
            if rows > 1 {
                x[k..2 * k].iter_mut().for_each(|v| *v = v.abs() + 1.0);
            }
            if rows > 2 {
                x[3 * k - 1] = 40.0;
                x[3 * k - 2] = -40.0;
            }
            let (plain, fast) = (Rows::quantise(&x, k), vnni::quantise_rows(&x, k));
            assert_eq!(fast.scale, plain.scale, "{rows}×{k}: scales");
            assert_eq!(fast.zero, plain.zero, "{rows}×{k}: zero points");
            for r in 0..rows {
                assert_eq!(fast.bytes(r), plain.bytes(r), "{rows}×{k}: row {r}");
            }
        }
    }

    #[test]
    fn products_are_within_the_quantisation_step_of_f32() {
        let (rows, n, k) = (9, 100, 384);
        let wf = values(n * k, 5);
        let bias = values(n, 6);
        let x: Vec<f32> = values(rows * k, 7).iter().map(|v| v * 3.0).collect();
        let w = Packed8::new(&wf, bias.clone());
        if !can_run() {
            return;
        }
        {
            let mut y = vec![0f32; rows * n];
            dense(&x, &w, &mut y);
            for r in 0..rows {
                for o in 0..n {
                    let exact: f32 =
                        (0..k).map(|i| x[r * k + i] * wf[o * k + i]).sum::<f32>() + bias[o];
                    // Each product is off by at most half a step of each factor; the errors
                    // are independent, so their sum grows with √k, not k (bound with margin).
                    let (sx, sw) = (6.0 / 255.0, 1.0 / 127.0);
                    let bound = 4.0 * (k as f32).sqrt() * (sx * 1.0 + sw * 3.0) / 2.0;
                    let got = y[r * n + o];
                    assert!((got - exact).abs() < bound, "[{r}][{o}]: {got} vs {exact}");
                }
            }
        }
    }

    #[test]
    fn a_layer_split_across_threads_equals_one_pass_and_rows_do_not_depend_on_each_other() {
        if !can_run() {
            return;
        }
        // Each row is quantised on its own, so a row's outputs are the same bits whether it is
        // computed alone, in a tile, or in a batch split across threads. Shapes: fewer outputs
        // than a panel, a part-filled last panel, inputs not a multiple of four, row counts
        // past the tile of six and past the split of 64.
        for (rows, n, k) in [
            (0, 4, 3),
            (1, 1, 1),
            (300, 12, 40),
            (13, 130, 410),
            (70, 64, 9),
        ] {
            let x = values(rows * k, 8);
            let w = Packed8::new(&values(n * k, 9), values(n, 10));
            let mut y = vec![f32::NAN; rows * n];
            dense(&x, &w, &mut y);
            for r in 0..rows {
                let mut alone = vec![f32::NAN; n];
                dense(&x[r * k..(r + 1) * k], &w, &mut alone);
                assert_eq!(
                    &y[r * n..(r + 1) * n],
                    &alone[..],
                    "{rows}×{k} by {n}: row {r}"
                );
            }
        }
    }

    #[test]
    fn quantised_rows_keep_zero_exact_and_span_the_byte_range() {
        let x = [-1.0f32, 0.0, 0.5, 3.0, 0.0, 0.0, 0.0, 0.0];
        let q = Rows::quantise(&x, 8);
        let b = q.bytes(0);
        assert_eq!(b[0], 0, "the row's lowest value is byte 0");
        assert_eq!(b[3], 255, "its highest is 255");
        assert_eq!(
            i32::from(b[1]),
            q.zero[0],
            "0 maps to the zero point exactly"
        );
        let s = q.scale[0];
        for (v, u) in x.iter().zip(&b) {
            assert!((s * (i32::from(*u) - q.zero[0]) as f32 - v).abs() <= s / 2.0 + 1e-6);
        }
        // A constant row (all zeros) gets a unit scale and no division by zero.
        let z = Rows::quantise(&[0.0; 4], 4);
        assert_eq!(z.bytes(0), vec![0; 4]);
    }
}
