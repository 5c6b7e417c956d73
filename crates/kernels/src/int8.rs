//! Int8 dot products for the vector scan: one quantised query against every stored chunk row.
//!
//! The scan is a loop over rows that the caller owns (it knows segments, deleted documents and
//! filters); this module owns only the product, and runs the caller's loop under the CPU's best
//! instruction set so that the product inlines into it ([`with_dot`]).
//!
//! Why a hand-written AVX2 product: written portably, the compiler widens each byte to 32 bits
//! and multiplies with `vpmulld`, a slow instruction. AVX2's `vpmaddwd` multiplies sixteen
//! 16-bit pairs and adds neighbours into eight 32-bit sums in one step; with the query widened
//! to 16 bits once per scan, each 16 bytes of a row cost one widening load, one `vpmaddwd` and
//! one add. Measured on 30,000 rows of 256 bytes: 0.41 → 0.28 ms per scan.

/// `(scale, bytes)` with `x ≈ byte · scale`: symmetric, the largest magnitude at ±127 (an
/// all-zero `v` has scale 0). How the index stores vectors and how the int8 dense layers
/// ([`crate::quant`]) keep each output's weights.
pub fn quantize(v: &[f32]) -> (f32, Vec<i8>) {
    let max = v.iter().fold(0f32, |m, x| m.max(x.abs()));
    if max == 0.0 {
        return (0.0, vec![0; v.len()]);
    }
    let scale = max / 127.0;
    (
        scale,
        v.iter()
            .map(|x| (x / scale).round().clamp(-127.0, 127.0) as i8)
            .collect(),
    )
}

/// A product of the query against one row, as [`with_dot`] hands it to the caller's loop.
pub trait Dot {
    /// `query · row` in exact integer arithmetic (`row.len()` is the query's).
    fn dot(&self, row: &[i8]) -> i32;
}

/// The caller's loop over rows, run by [`with_dot`] with the best [`Dot`] the CPU has.
pub trait WithDot {
    type Output;
    /// Implementations should be `#[inline(always)]`: the loop is then compiled inside the
    /// instruction-set context and the product inlines into it.
    fn run<D: Dot>(self, dot: &D) -> Self::Output;
}

/// Runs `op` with a product against `query`: AVX2's when the CPU has it, otherwise a portable
/// one compiled for the best instruction set available.
pub fn with_dot<O: WithDot>(query: &[i8], op: O) -> O::Output {
    #[cfg(target_arch = "x86_64")]
    if let Some(simd) = pulp::x86::V3::try_new() {
        return avx2::run(simd, query, op);
    }
    pulp::Arch::new().dispatch(Portable { query, op })
}

/// The portable product: sixteen independent `i32` lanes over fixed-width blocks, a shape the
/// compiler vectorises (`vpmulld` under AVX2).
#[inline(always)]
pub fn dot_portable(a: &[i8], b: &[i8]) -> i32 {
    const LANES: usize = 16;
    let mut acc = [0i32; LANES];
    let (ca, cb) = (a.chunks_exact(LANES), b.chunks_exact(LANES));
    let tail: i32 = ca
        .remainder()
        .iter()
        .zip(cb.remainder())
        .map(|(x, y)| i32::from(*x) * i32::from(*y))
        .sum();
    for (x, y) in ca.zip(cb) {
        for i in 0..LANES {
            acc[i] += i32::from(x[i]) * i32::from(y[i]);
        }
    }
    acc.iter().sum::<i32>() + tail
}

struct Portable<'a, O> {
    query: &'a [i8],
    op: O,
}

struct PortableDot<'a>(&'a [i8]);

impl Dot for PortableDot<'_> {
    #[inline(always)]
    fn dot(&self, row: &[i8]) -> i32 {
        dot_portable(self.0, row)
    }
}

impl<O: WithDot> pulp::WithSimd for Portable<'_, O> {
    type Output = O::Output;

    #[inline(always)]
    fn with_simd<S: pulp::Simd>(self, _: S) -> O::Output {
        self.op.run(&PortableDot(self.query))
    }
}

#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{Dot, WithDot};
    use pulp::x86::V3;

    /// Bytes per step: sixteen, widened to sixteen 16-bit lanes (one 256-bit register).
    const STEP: usize = 16;

    pub(super) fn run<O: WithDot>(simd: V3, query: &[i8], op: O) -> O::Output {
        let wide: Vec<i16> = query.iter().map(|&x| i16::from(x)).collect();
        simd.vectorize(Imp {
            simd,
            query,
            wide: &wide,
            op,
        })
    }

    struct Imp<'a, O> {
        simd: V3,
        query: &'a [i8],
        wide: &'a [i16],
        op: O,
    }

    impl<O: WithDot> pulp::NullaryFnOnce for Imp<'_, O> {
        type Output = O::Output;

        #[inline(always)]
        fn call(self) -> O::Output {
            let dot = Avx2Dot {
                simd: self.simd,
                query: self.query,
                wide: pulp::as_arrays::<STEP, _>(self.wide).0,
            };
            self.op.run(&dot)
        }
    }

    struct Avx2Dot<'a> {
        simd: V3,
        query: &'a [i8],
        /// The query, widened to 16 bits, in whole steps.
        wide: &'a [[i16; STEP]],
    }

    impl Dot for Avx2Dot<'_> {
        #[inline(always)]
        fn dot(&self, row: &[i8]) -> i32 {
            let s = self.simd.avx2;
            let blocks = pulp::as_arrays::<STEP, _>(row).0;
            let steps = self.wide.len().min(blocks.len());
            // Two sums, so that consecutive steps do not wait on each other's add.
            let mut acc = [self.simd.avx._mm256_setzero_si256(); 2];
            for (i, (b, q)) in blocks[..steps].iter().zip(self.wide).enumerate() {
                let r = s._mm256_cvtepi8_epi16(pulp::cast(*b));
                let p = s._mm256_madd_epi16(r, pulp::cast(*q));
                acc[i & 1] = s._mm256_add_epi32(acc[i & 1], p);
            }
            let lanes: [i32; 8] = pulp::cast(s._mm256_add_epi32(acc[0], acc[1]));
            let done = steps * STEP;
            let rest: i32 = self.query[done..]
                .iter()
                .zip(&row[done..])
                .map(|(x, y)| i32::from(*x) * i32::from(*y))
                .sum();
            lanes.iter().sum::<i32>() + rest
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Collects `dot(row)` for each row, through [`with_dot`].
    struct Each<'a>(&'a [Vec<i8>]);

    impl WithDot for Each<'_> {
        type Output = Vec<i32>;

        #[inline(always)]
        fn run<D: Dot>(self, dot: &D) -> Vec<i32> {
            self.0.iter().map(|r| dot.dot(r)).collect()
        }
    }

    fn plain(x: &[i8], y: &[i8]) -> i32 {
        x.iter()
            .zip(y)
            .map(|(x, y)| i32::from(*x) * i32::from(*y))
            .sum()
    }

    #[test]
    fn products_equal_the_plain_sum_at_every_length_and_extreme() {
        for n in 0..140 {
            let a: Vec<i8> = (0..n).map(|i| ((i * 37 + 11) % 256) as u8 as i8).collect();
            let b: Vec<i8> = (0..n).map(|i| ((i * 91 + 5) % 256) as u8 as i8).collect();
            let (max, min) = (vec![127i8; n], vec![-128i8; n]);
            let rows = [a.clone(), b.clone(), max.clone(), min.clone()];
            for q in [&a, &max, &min] {
                let want: Vec<i32> = rows.iter().map(|r| plain(q, r)).collect();
                assert_eq!(with_dot(q, Each(&rows)), want, "length {n}");
                let portable: Vec<i32> = rows.iter().map(|r| dot_portable(q, r)).collect();
                assert_eq!(portable, want, "portable, length {n}");
            }
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn the_avx2_product_is_the_one_that_runs_where_the_cpu_has_it() {
        // Where AVX2 exists, `with_dot` must take its path, or the test above checks only
        // the portable product.
        struct Name;
        impl WithDot for Name {
            type Output = &'static str;
            fn run<D: Dot>(self, _: &D) -> &'static str {
                std::any::type_name::<D>()
            }
        }
        let name = with_dot(&[1, 2, 3], Name);
        if pulp::x86::V3::try_new().is_some() {
            assert!(name.contains("::avx2::Avx2Dot"), "{name}");
        }
    }
}
