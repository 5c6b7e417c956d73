//! The arithmetic of a transformer's forward pass on the CPU, for vaultmcp's embeddings: dense
//! products, attention, layer norm and activations; and the int8 dot product of the vector
//! scan ([`int8`]).
//!
//! Why not a general matrix library: a search query is about ten tokens, and a general GEMM
//! copies ("packs") the whole weight matrix into its own layout on every call, which for so few
//! rows costs more than the product itself (45% of a query's time with candle's, measured).
//! Here a dense layer's weights are packed once, at load ([`Packed`]). Attention's small
//! products, whose operands change with every text, multiply contiguous rows as they are
//! ([`matmul_t`]). Everything runs as [`pulp::WithSimd`] operations: compiled once per
//! instruction set, the best one the CPU has chosen at run time (AVX2 and FMA on a current
//! laptop). On CPUs with AVX-512 VNNI the dense layers run in int8 instead ([`quant`]); the
//! one unsafe call is the entry into that code after the CPU is checked for it (and its twin in
//! the tests).

/// Runs `$tile!(r, R)` over rows `0..$rows` in tiles of `R = 6` rows from `r`, then the rows
/// left in one tile of their own size (`R` a literal, for a const generic): a tile of one or
/// two rows keeps too few sums going to hide the multiply-add's latency (a query of five
/// tokens would run as 2 + 2 + 1).
macro_rules! row_tiles {
    ($rows:expr, $tile:ident) => {{
        let rows: usize = $rows;
        let mut r = 0;
        while r + 6 <= rows {
            $tile!(r, 6);
            r += 6;
        }
        match rows - r {
            5 => $tile!(r, 5),
            4 => $tile!(r, 4),
            3 => $tile!(r, 3),
            2 => $tile!(r, 2),
            1 => $tile!(r, 1),
            _ => {}
        }
    }};
}

pub mod int8;
pub mod quant;

use pulp::{Simd, WithSimd};
use rayon::prelude::*;

/// Input rows per task when a product is split across threads: enough to amortise reading the
/// weights again (the panels stay in the core's cache for the whole tile).
const TILE_ROWS: usize = 64;

/// `y[r][o] = x[r] · w[o]`: `x` is `[rows, k]`, `w` is `[n, k]` and `y` is `[rows, n]`, all
/// row-major. One thread.
pub fn matmul_t(x: &[f32], w: &[f32], k: usize, y: &mut [f32]) {
    pulp::Arch::new().dispatch(MatMulT { x, w, k, y });
}

/// Outputs per panel of a packed weight matrix.
const PANEL: usize = 16;

/// A dense layer's weights, packed once at load for [`dense`]: panels of 16 outputs, and
/// within a panel, for each input, the panel's sixteen weights side by side. The product then
/// reads the weights front to back exactly once per tile of input rows, and each step
/// multiplies one input value (broadcast) by sixteen weights, with no sums across lanes.
///
/// The weights are kept as bfloat16 (the top half of an f32: its sign, exponent and 8 bits of
/// mantissa, rounded to nearest) and widened back to f32 as they are read, by a shift; the
/// arithmetic stays f32. Why: a query of a few tokens reads every weight once, so its time
/// was the time to stream all-MiniLM-L6-v2's 42 MB of f32 weights from memory; as bfloat16 they
/// are 21 MB, which stays in a laptop's last-level cache between queries. The rounding
/// (relative error at most 2⁻⁹ a weight) moves a sentence vector far less than storing it as
/// int8 in the index does (1/254 of its largest component).
pub struct Packed {
    panels: Vec<u16>,
    bias: Vec<f32>,
    n: usize,
    k: usize,
}

impl Packed {
    /// Packs `w`, `[n, k]` row-major as checkpoints store it (`n = bias.len()`).
    pub fn new(w: &[f32], bias: Vec<f32>) -> Packed {
        let n = bias.len();
        let k = w.len().checked_div(n).unwrap_or(0);
        let mut panels = vec![0u16; n.div_ceil(PANEL) * k * PANEL];
        for (o, row) in w.chunks_exact(k.max(1)).enumerate().take(n) {
            let (p, j) = (o / PANEL, o % PANEL);
            for (i, &v) in row.iter().enumerate() {
                panels[(p * k + i) * PANEL + j] = to_bf16(v);
            }
        }
        Packed { panels, bias, n, k }
    }

    /// Outputs per row.
    pub fn outputs(&self) -> usize {
        self.n
    }
}

/// `x` rounded to the nearest bfloat16 (ties to even), as its bits.
pub fn to_bf16(x: f32) -> u16 {
    if x.is_nan() {
        return 0x7fc0;
    }
    let b = x.to_bits();
    // Adding just under half of the dropped part's unit, plus the kept part's lowest bit,
    // rounds to nearest with ties to even; a carry into the exponent is the right result.
    ((b + 0x7fff + ((b >> 16) & 1)) >> 16) as u16
}

/// The f32 a bfloat16 stands for: exact.
#[inline(always)]
pub fn from_bf16(h: u16) -> f32 {
    f32::from_bits(u32::from(h) << 16)
}

/// `x` as the weights of a [`Packed`] layer see it: rounded to bfloat16 and back. What the
/// tests' reference computations multiply by.
#[cfg(test)]
fn round_bf16(x: f32) -> f32 {
    from_bf16(to_bf16(x))
}

/// A dense layer, `y = x wᵀ + bias` for `x` of `[rows, k]`, split by tiles of input rows
/// across rayon's threads when there are many (a batch of notes). A few rows (queries) stay on
/// the calling thread: splitting them by outputs gained 0.7 ms on an idle machine and cost a
/// tenth of the CPU in thread hand-offs under load, where the other core is busy anyway.
pub fn dense(x: &[f32], w: &Packed, y: &mut [f32]) {
    by_row_tiles(x, w.k, y, w.n, |x, y| {
        pulp::Arch::new().dispatch(DenseOp { x, w, y })
    });
}

/// Runs a dense layer's `one(x, y)` on tiles of [`TILE_ROWS`] input rows across rayon's threads
/// when there are more rows than a tile, else once on the calling thread (see [`dense`]).
fn by_row_tiles(
    x: &[f32],
    k: usize,
    y: &mut [f32],
    n: usize,
    one: impl Fn(&[f32], &mut [f32]) + Sync,
) {
    let rows = x.len().checked_div(k).unwrap_or(0);
    debug_assert_eq!(y.len(), rows * n);
    if rows > TILE_ROWS {
        y.par_chunks_mut(TILE_ROWS * n)
            .zip(x.par_chunks(TILE_ROWS * k))
            .for_each(|(y, x)| one(x, y));
    } else {
        one(x, y);
    }
}

struct DenseOp<'a> {
    x: &'a [f32],
    w: &'a Packed,
    y: &'a mut [f32],
}

impl WithSimd for DenseOp<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let DenseOp { x, w, y } = self;
        let (n, k) = (w.n, w.k);
        let rows = x.len().checked_div(k).unwrap_or(0);
        for p in 0..n.div_ceil(PANEL) {
            let panel = &w.panels[p * k * PANEL..(p + 1) * k * PANEL];
            let width = PANEL.min(n - p * PANEL);
            let bias = &w.bias[p * PANEL..p * PANEL + width];
            let mut store = |r: usize, v: &[f32; PANEL]| {
                for ((o, v), b) in y[r * n + p * PANEL..][..width].iter_mut().zip(v).zip(bias) {
                    *o = v + b;
                }
            };
            macro_rules! tile {
                ($r:expr, $n:literal) => {{
                    let r = $r;
                    let xs = std::array::from_fn(|i| &x[(r + i) * k..(r + i + 1) * k]);
                    for (i, v) in panel_tile::<S, $n>(simd, xs, panel).iter().enumerate() {
                        store(r + i, v);
                    }
                }};
            }
            row_tiles!(rows, tile);
        }
    }
}

/// One panel's sixteen outputs for `R` input rows: for each input, its value in each row
/// broadcast and multiplied into the panel's sixteen weights (`16 / lanes` vectors), widened
/// from bfloat16 first (a zero-extension and a shift, which the compiler vectorises).
#[inline(always)]
fn panel_tile<S: Simd, const R: usize>(
    simd: S,
    xs: [&[f32]; R],
    panel: &[u16],
) -> [[f32; PANEL]; R] {
    let mut out = [[0f32; PANEL]; R];
    let nv = PANEL / S::F32_LANES;
    if S::F32_LANES < 4 || nv * S::F32_LANES != PANEL {
        // No vectors worth the name: plain loops.
        for (i, ws) in panel.chunks_exact(PANEL).enumerate() {
            for (o, x) in out.iter_mut().zip(xs) {
                for (acc, w) in o.iter_mut().zip(ws) {
                    *acc += x[i] * from_bf16(*w);
                }
            }
        }
        return out;
    }
    let k = xs[0].len();
    let (steps, _) = pulp::as_arrays::<PANEL, _>(&panel[..k * PANEL]);
    let mut acc = [[simd.splat_f32s(0.0); 4]; R];
    for (i, step) in steps.iter().enumerate() {
        let wide: [f32; PANEL] = step.map(from_bf16);
        let (ws, _) = S::as_simd_f32s(&wide);
        for a in 0..R {
            let xa = simd.splat_f32s(xs[a][i]);
            for j in 0..nv {
                acc[a][j] = simd.mul_add_e_f32s(xa, ws[j], acc[a][j]);
            }
        }
    }
    for a in 0..R {
        let (lanes, _) = S::as_mut_simd_f32s(&mut out[a]);
        lanes[..nv].copy_from_slice(&acc[a][..nv]);
    }
    out
}

struct MatMulT<'a> {
    x: &'a [f32],
    w: &'a [f32],
    k: usize,
    y: &'a mut [f32],
}

impl WithSimd for MatMulT<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let MatMulT { x, w, k, y } = self;
        if k == 0 {
            y.fill(0.0);
            return;
        }
        let rows = x.len() / k;
        let n = w.len() / k;
        let xrow = |r: usize| &x[r * k..(r + 1) * k];
        let wrow = |o: usize| &w[o * k..(o + 1) * k];
        let mut o = 0;
        while o + 4 <= n {
            let ws = [wrow(o), wrow(o + 1), wrow(o + 2), wrow(o + 3)];
            let mut r = 0;
            while r + 2 <= rows {
                let d = tile::<S, 2, 4>(simd, [xrow(r), xrow(r + 1)], ws);
                y[r * n + o..][..4].copy_from_slice(&d[0]);
                y[(r + 1) * n + o..][..4].copy_from_slice(&d[1]);
                r += 2;
            }
            if r < rows {
                let d = tile::<S, 1, 4>(simd, [xrow(r)], ws);
                y[r * n + o..][..4].copy_from_slice(&d[0]);
            }
            o += 4;
        }
        for o in o..n {
            for r in 0..rows {
                y[r * n + o] = tile::<S, 1, 1>(simd, [xrow(r)], [wrow(o)])[0][0];
            }
        }
    }
}

/// The `R × C` dot products of `R` input rows with `C` weight rows, all of one length, with
/// `R × C` vector accumulators (kept in registers: `R` and `C` are constants).
#[inline(always)]
fn tile<S: Simd, const R: usize, const C: usize>(
    simd: S,
    xs: [&[f32]; R],
    ws: [&[f32]; C],
) -> [[f32; C]; R] {
    let xv = xs.map(S::as_simd_f32s);
    let wv = ws.map(S::as_simd_f32s);
    let len = xv[0].0.len();
    let xh = xv.map(|(h, _)| &h[..len]);
    let wh = wv.map(|(h, _)| &h[..len]);
    let mut acc = [[simd.splat_f32s(0.0); C]; R];
    for i in 0..len {
        for a in 0..R {
            let xa = xh[a][i];
            for c in 0..C {
                acc[a][c] = simd.mul_add_e_f32s(xa, wh[c][i], acc[a][c]);
            }
        }
    }
    let mut out = [[0f32; C]; R];
    for a in 0..R {
        for c in 0..C {
            let tail: f32 = xv[a].1.iter().zip(wv[c].1).map(|(p, q)| p * q).sum();
            out[a][c] = simd.reduce_sum_f32s(acc[a][c]) + tail;
        }
    }
    out
}

/// Layer norm of each `dim`-wide row of `x`, in place: zero mean, unit variance, then scaled by
/// `gamma` and shifted by `beta`.
pub fn layer_norm(x: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
    pulp::Arch::new().dispatch(LayerNorm {
        x,
        gamma,
        beta,
        eps,
    });
}

/// [`layer_norm`]'s sums in vector lanes (a plain `f32` sum is not vectorised: reordering it
/// changes its rounding).
struct LayerNorm<'a> {
    x: &'a mut [f32],
    gamma: &'a [f32],
    beta: &'a [f32],
    eps: f32,
}

impl WithSimd for LayerNorm<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let LayerNorm {
            x,
            gamma,
            beta,
            eps,
        } = self;
        let dim = gamma.len();
        if dim == 0 {
            return;
        }
        for row in x.chunks_exact_mut(dim) {
            let (head, tail) = S::as_simd_f32s(row);
            let mut acc = simd.splat_f32s(0.0);
            for v in head {
                acc = simd.add_f32s(acc, *v);
            }
            let mean = (simd.reduce_sum_f32s(acc) + tail.iter().sum::<f32>()) / dim as f32;
            let m = simd.splat_f32s(mean);
            let mut acc = simd.splat_f32s(0.0);
            for v in head {
                let d = simd.sub_f32s(*v, m);
                acc = simd.mul_add_e_f32s(d, d, acc);
            }
            let tail_sq: f32 = tail.iter().map(|v| (v - mean) * (v - mean)).sum();
            let var = (simd.reduce_sum_f32s(acc) + tail_sq) / dim as f32;
            let inv = 1.0 / (var + eps).sqrt();
            for ((v, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *v = (*v - mean) * inv * g + b;
            }
        }
    }
}

/// The activation between a layer's two dense products.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// BERT's `gelu`: `x Φ(x)`, with the exact error function.
    Gelu,
    /// `gelu_new` / `gelu_pytorch_tanh`: the tanh approximation.
    GeluTanh,
    Relu,
}

impl Activation {
    /// The name in `config.json`'s `hidden_act`.
    pub fn from_name(name: &str) -> Option<Activation> {
        match name {
            "gelu" => Some(Activation::Gelu),
            "gelu_new" | "gelu_pytorch_tanh" | "gelu_fast" => Some(Activation::GeluTanh),
            "relu" => Some(Activation::Relu),
            _ => None,
        }
    }

    /// Applies the activation to every value, across threads for large inputs.
    pub fn apply(self, x: &mut [f32]) {
        if x.len() < 1 << 17 {
            pulp::Arch::new().dispatch(Activate(self, x));
        } else {
            x.par_chunks_mut(1 << 14)
                .for_each(|c| pulp::Arch::new().dispatch(Activate(self, c)));
        }
    }
}

/// The activation as a [`pulp::WithSimd`] loop: with [`erf`] and [`exp`] written as plain
/// arithmetic (no calls into a math library), the compiler vectorises it. Through libm's
/// `erff`, one value at a time, GELU took a fifth of a query's time.
struct Activate<'a>(Activation, &'a mut [f32]);

impl WithSimd for Activate<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, _: S) {
        let Activate(act, x) = self;
        match act {
            Activation::Gelu => x
                .iter_mut()
                .for_each(|v| *v = 0.5 * *v * (1.0 + erf(*v * std::f32::consts::FRAC_1_SQRT_2))),
            Activation::GeluTanh => x.iter_mut().for_each(|v| {
                let u = 0.797_884_6 * (*v + 0.044_715 * *v * *v * *v);
                // tanh(u) = 1 - 2 / (e^{2u} + 1)
                *v = 0.5 * *v * (2.0 - 2.0 / (exp(2.0 * u) + 1.0));
            }),
            Activation::Relu => x.iter_mut().for_each(|v| *v = v.max(0.0)),
        }
    }
}

/// The error function, to within 3e-6 in f32 arithmetic (the formula's own error is 3e-7:
/// Abramowitz and Stegun 7.1.28): polynomials and one division, so that a loop of it
/// vectorises.
#[inline(always)]
pub fn erf(x: f32) -> f32 {
    const A: [f32; 6] = [
        0.070_523_08,
        0.042_282_01,
        0.009_270_527,
        0.000_152_014_3,
        0.000_276_567_2,
        0.000_043_063_8,
    ];
    let a = x.abs();
    let p = 1.0 + a * (A[0] + a * (A[1] + a * (A[2] + a * (A[3] + a * (A[4] + a * A[5])))));
    let p2 = p * p;
    let p4 = p2 * p2;
    let p8 = p4 * p4;
    // Far out p⁸ overflows to infinity and 1/∞ = 0: erf is then exactly ±1.
    (1.0 - 1.0 / (p8 * p8)).copysign(x)
}

/// `e^x` to within about 2e-7 relative, for `x` clamped to `[-87, 88]` (beyond, the result is
/// the clamp's): `2^n · e^r` with `n` whole and `|r| ≤ ln 2 / 2`, `e^r` from its series.
#[inline(always)]
pub fn exp(x: f32) -> f32 {
    const LN2_HI: f32 = 0.693_145_75;
    const LN2_LO: f32 = 1.428_606_8e-6;
    let x = x.clamp(-87.0, 88.0);
    let n = (x * std::f32::consts::LOG2_E).round_ties_even();
    let r = x - n * LN2_HI - n * LN2_LO;
    let p = 1.0
        + r * (1.0
            + r * (0.5 + r * (1.0 / 6.0 + r * (1.0 / 24.0 + r * (1.0 / 120.0 + r / 720.0)))));
    p * f32::from_bits(((n as i32 + 127) as u32) << 23)
}

/// Multi-head self-attention over each sequence on its own: `qkv` holds, per token, its query,
/// key and value (each `heads × head_dim` wide, one after the other), `lens` the sequences'
/// token counts in order, and the attended values go to `ctx` (`[tokens, heads × head_dim]`).
/// No padding and so no mask: a token attends to exactly its own sequence.
pub fn attention(qkv: &[f32], lens: &[usize], heads: usize, ctx: &mut [f32]) {
    let width = ctx.len() / lens.iter().sum::<usize>().max(1);
    let mut parts = Vec::with_capacity(lens.len());
    let (mut rest, mut start) = (ctx, 0);
    for &len in lens {
        let (part, tail) = rest.split_at_mut(len * width);
        parts.push((start, len, part));
        rest = tail;
        start += len;
    }
    let one = |(start, len, out): (usize, usize, &mut [f32])| {
        let rows = &qkv[start * 3 * width..(start + len) * 3 * width];
        sequence_attention(rows, len, heads, width, out);
    };
    // As for the products: only a batch of notes is worth spreading across threads.
    if start > TILE_ROWS {
        parts.into_par_iter().for_each(one);
    } else {
        parts.into_iter().for_each(one);
    }
}

fn sequence_attention(qkv: &[f32], len: usize, heads: usize, width: usize, out: &mut [f32]) {
    pulp::Arch::new().dispatch(SequenceAttention {
        qkv,
        len,
        heads,
        width,
        out,
    });
}

/// One sequence's attention, every head, under one instruction-set dispatch: a query's heads
/// multiply 5 × 32 by 32 × 5 matrices, so dispatching (and allocating) per product was most of
/// their time.
struct SequenceAttention<'a> {
    qkv: &'a [f32],
    len: usize,
    heads: usize,
    width: usize,
    out: &'a mut [f32],
}

impl WithSimd for SequenceAttention<'_> {
    type Output = ();

    #[inline(always)]
    fn with_simd<S: Simd>(self, simd: S) {
        let SequenceAttention {
            qkv,
            len,
            heads,
            width,
            out,
        } = self;
        let hd = width / heads;
        let scale = 1.0 / (hd as f32).sqrt();
        let mut q = vec![0f32; len * hd];
        let mut k = vec![0f32; len * hd];
        let mut vt = vec![0f32; hd * len];
        let mut scores = vec![0f32; len * len];
        let mut head_out = vec![0f32; len * hd];
        for h in 0..heads {
            let at = h * hd;
            for t in 0..len {
                let row = &qkv[t * 3 * width..(t + 1) * 3 * width];
                for (qv, x) in q[t * hd..(t + 1) * hd].iter_mut().zip(&row[at..at + hd]) {
                    *qv = x * scale;
                }
                k[t * hd..(t + 1) * hd].copy_from_slice(&row[width + at..width + at + hd]);
                for (d, x) in row[2 * width + at..2 * width + at + hd].iter().enumerate() {
                    vt[d * len + t] = *x;
                }
            }
            MatMulT {
                x: &q,
                w: &k,
                k: hd,
                y: &mut scores,
            }
            .with_simd(simd);
            for row in scores.chunks_exact_mut(len) {
                let max = row.iter().copied().fold(f32::NEG_INFINITY, f32::max);
                let mut sum = 0.0;
                for s in row.iter_mut() {
                    *s = exp(*s - max);
                    sum += *s;
                }
                let inv = 1.0 / sum;
                row.iter_mut().for_each(|s| *s *= inv);
            }
            MatMulT {
                x: &scores,
                w: &vt,
                k: len,
                y: &mut head_out,
            }
            .with_simd(simd);
            for t in 0..len {
                out[t * width + at..][..hd].copy_from_slice(&head_out[t * hd..(t + 1) * hd]);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(n: usize, seed: f32) -> Vec<f32> {
        (0..n)
            .map(|i| (i as f32 * 0.37 + seed).sin() * 2.0)
            .collect()
    }

    fn naive(x: &[f32], w: &[f32], rows: usize, n: usize, k: usize) -> Vec<f32> {
        let mut y = vec![0f32; rows * n];
        for r in 0..rows {
            for o in 0..n {
                y[r * n + o] = (0..k).map(|i| x[r * k + i] * w[o * k + i]).sum();
            }
        }
        y
    }

    #[test]
    fn products_match_plain_loops_at_every_shape() {
        // Odd row counts, output counts that are not a multiple of four, lengths below, at
        // and past one vector, and the empty product.
        for rows in [0, 1, 2, 3, 5, 8] {
            for n in [1, 3, 4, 7, 9] {
                for k in [0, 1, 7, 8, 9, 16, 33, 64] {
                    let x = values(rows * k, 0.5);
                    let w = values(n * k, 1.5);
                    let mut y = vec![f32::NAN; rows * n];
                    matmul_t(&x, &w, k, &mut y);
                    for (a, b) in y.iter().zip(naive(&x, &w, rows, n, k)) {
                        assert!(
                            (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                            "{rows}x{n}x{k}: {a} vs {b}"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn a_dense_layer_split_across_threads_equals_one_pass() {
        // Fewer outputs than a panel, a part-filled last panel, row counts past each tile size,
        // one thread (few rows) and split by tiles of rows (many); every count of rows left
        // after the tiles of six.
        let shapes = [(0, 4, 3), (1, 1, 1), (300, 12, 40), (5, 130, 410)];
        for (rows, n, k) in shapes.into_iter().chain((0..=13).map(|r| (r, 17, 9))) {
            let x = values(rows * k, 0.1);
            let w = values(n * k, 0.2);
            let bias = values(n, 0.3);
            let mut y = vec![f32::NAN; rows * n];
            dense(&x, &Packed::new(&w, bias.clone()), &mut y);
            // The layer multiplies by its weights as bfloat16 (see `Packed`).
            let stored: Vec<f32> = w.iter().map(|&v| round_bf16(v)).collect();
            let want = naive(&x, &stored, rows, n, k);
            for (i, (a, b)) in y.iter().zip(want).enumerate() {
                let b = b + bias[i % n];
                assert!(
                    (a - b).abs() <= 1e-4 * (1.0 + b.abs()),
                    "{rows}x{n}: {i}: {a} vs {b}"
                );
            }
        }
    }

    #[test]
    fn bfloat16_rounds_to_nearest_with_ties_to_even() {
        let one = 0x3f80;
        // 1 + 2⁻⁸ is halfway between 1 (even) and 1 + 2⁻⁷: down to 1; 1 + 3·2⁻⁸ is halfway
        // between 1 + 2⁻⁷ (odd) and 1 + 2⁻⁶: up. Just past halfway goes up.
        for (x, want) in [
            (1.0f32, one),
            (1.0 + 2f32.powi(-8), one),
            (1.0 + 3.0 * 2f32.powi(-8), one + 2),
            (f32::from_bits(0x3f80_8001), one + 1),
            (f32::from_bits(0x3f80_7fff), one),
            (-1.0, 0xbf80),
            (0.0, 0),
            (f32::MAX, 0x7f80), // rounds up to infinity, as it should
            (f32::NAN, 0x7fc0),
        ] {
            assert_eq!(to_bf16(x), want, "{x:e}");
        }
        // Exact both ways for every value a bfloat16 can hold that is not a NaN.
        for h in (0..=u16::MAX).filter(|h| h & 0x7fff <= 0x7f80) {
            assert_eq!(to_bf16(from_bf16(h)), h);
        }
    }

    #[test]
    fn attention_stays_within_each_sequence() {
        // Two sequences, one head of width 2. Sequence one is a single token: it can only
        // attend to itself, so its output is its own value whatever the other tokens hold.
        let width = 2;
        let tok = |q: [f32; 2], k: [f32; 2], v: [f32; 2]| [q, k, v].concat();
        let qkv = [
            tok([1.0, 0.0], [1.0, 0.0], [5.0, 7.0]),
            tok([0.0, 9.0], [0.0, 9.0], [1.0, 1.0]),
            tok([0.0, 9.0], [9.0, 0.0], [3.0, 3.0]),
        ]
        .concat();
        let mut ctx = vec![0f32; 3 * width];
        attention(&qkv, &[1, 2], 1, &mut ctx);
        assert_eq!(&ctx[..2], &[5.0, 7.0]);
        // Token two's query matches its own key (score 81/√2) far more than token three's
        // (0): nearly all of its attention goes to value [1, 1].
        assert!(
            (ctx[2] - 1.0).abs() < 1e-3 && (ctx[3] - 1.0).abs() < 1e-3,
            "{ctx:?}"
        );
    }

    #[test]
    fn attention_scores_are_scaled_by_the_root_of_the_head_width() {
        // One head of width 4 (scale 1/2): scores 2 · 1/2 = 1 and 0, so the weights are
        // softmax(1, 0) = (0.7311, 0.2689); unscaled they would be (0.8808, 0.1192).
        let tok = |k: [f32; 4], v: [f32; 4]| [[1.0, 0.0, 0.0, 0.0], k, v].concat();
        let qkv = [
            tok([2.0, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0]),
            tok([0.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]),
        ]
        .concat();
        let mut ctx = vec![0f32; 8];
        attention(&qkv, &[2], 1, &mut ctx);
        let e = std::f32::consts::E;
        for t in 0..2 {
            let out = &ctx[t * 4..t * 4 + 2];
            assert!((out[0] - e / (e + 1.0)).abs() < 1e-5, "{ctx:?}");
            assert!((out[1] - 1.0 / (e + 1.0)).abs() < 1e-5, "{ctx:?}");
        }
    }

    #[test]
    fn erf_and_exp_match_the_library_functions() {
        for i in -4000..=4000 {
            let x = i as f32 / 400.0;
            let want = libm::erf(f64::from(x));
            assert!((f64::from(erf(x)) - want).abs() < 3e-6, "erf({x})");
            let x = i as f32 / 46.0;
            let want = f64::from(x).exp();
            assert!(((f64::from(exp(x)) - want) / want).abs() < 4e-7, "exp({x})");
        }
        assert_eq!(erf(1e30), 1.0);
        assert_eq!(erf(-1e30), -1.0);
        assert!(exp(-1e30) >= 0.0 && exp(-1e30) < 1e-37);
        assert!(exp(1e30).is_finite());
    }

    #[test]
    fn activations_and_layer_norm_give_known_values() {
        let mut x = [-1.0f32, 0.0, 1.0, 3.0];
        Activation::Gelu.apply(&mut x);
        // x Φ(x): Φ(1) = 0.841345, Φ(3) = 0.998650.
        let want = [-0.158655, 0.0, 0.841345, 2.99595];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{x:?}");
        }
        // The tanh form: 0.5 x (1 + tanh(√(2/π) (x + 0.044715 x³))).
        let mut x = [-1.0f32, 0.5, 2.0];
        Activation::GeluTanh.apply(&mut x);
        let want = [-0.158808, 0.345714, 1.954598];
        for (a, b) in x.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{x:?}");
        }
        let mut x = [-1.0f32, 2.0];
        Activation::Relu.apply(&mut x);
        assert_eq!(x, [0.0, 2.0]);
        let mut row = [1.0f32, 2.0, 3.0, 4.0];
        layer_norm(&mut row, &[1.0, 1.0, 2.0, 1.0], &[0.0, 0.0, 0.0, 10.0], 0.0);
        let s = 1.0 / 1.25f32.sqrt();
        let want = [-1.5 * s, -0.5 * s, 2.0 * 0.5 * s, 1.5 * s + 10.0];
        for (a, b) in row.iter().zip(want) {
            assert!((a - b).abs() < 1e-5, "{row:?}");
        }
        assert_eq!(Activation::from_name("gelu"), Some(Activation::Gelu));
        assert_eq!(Activation::from_name("swish"), None);
    }
}
