//! Note vectors: each note's chunk vectors live on the note's own document (a bytes fast field,
//! int8-quantised, with the model's identity beside it), so text and vectors change in the same
//! add, the same commit, and a crash can never leave them out of step. Readers hold them in
//! memory, one matrix per segment (reused across reloads until the segment goes away), and
//! search them by brute force.

use std::collections::HashMap;
use std::sync::Arc;

use tantivy::index::SegmentId;
use tantivy::{DocAddress, DocId, Searcher, SegmentReader};

use vaultmcp_kernels::int8::{self, quantize};

use super::IndexError;

/// Fast field names (see `schema.rs`).
pub const VEC: &str = "vec";
pub const VEC_MODEL: &str = "vec_model";

/// Encodes chunk vectors: `u16` chunk count, `u16` dimension, then per chunk an `f32` scale
/// and `dim` signed bytes (value ≈ byte × scale). A quarter of f32's size; cosine ranking is
/// unchanged to about two decimals.
pub fn encode(vectors: &[Vec<f32>]) -> Vec<u8> {
    let dim = vectors.first().map_or(0, Vec::len);
    let mut out = Vec::with_capacity(4 + vectors.len() * (4 + dim));
    out.extend_from_slice(&(vectors.len() as u16).to_le_bytes());
    out.extend_from_slice(&(dim as u16).to_le_bytes());
    for v in vectors {
        let (scale, q) = quantize(v);
        out.extend_from_slice(&scale.to_le_bytes());
        out.extend(q.iter().map(|b| *b as u8));
    }
    out
}

/// One chunk's row as stored: its scale and its bytes.
type Row<'a> = (f32, &'a [u8]);

/// Decodes [`encode`]'s bytes: `(dim, rows)`; `None` when malformed.
fn decode(bytes: &[u8]) -> Option<(usize, Vec<Row<'_>>)> {
    let n = u16::from_le_bytes(bytes.get(0..2)?.try_into().ok()?) as usize;
    let dim = u16::from_le_bytes(bytes.get(2..4)?.try_into().ok()?) as usize;
    if bytes.len() != 4 + n * (4 + dim) {
        return None;
    }
    let mut out = Vec::with_capacity(n);
    for i in 0..n {
        let at = 4 + i * (4 + dim);
        let scale = f32::from_le_bytes(bytes[at..at + 4].try_into().ok()?);
        out.push((scale, &bytes[at + 4..at + 4 + dim]));
    }
    Some((dim, out))
}

/// One segment's vectors of the current model: chunk rows grouped by document, in one flat
/// buffer (a row per allocation cost more than the rows themselves).
struct SegmentVectors {
    /// Documents that have vectors, in the column's order, the rows of `docs[i]` being
    /// `rows[i]..rows[i + 1]`.
    docs: Vec<DocId>,
    rows: Vec<u32>,
    scales: Vec<f32>,
    data: Vec<i8>,
    /// `(doc, i)` sorted by document, to find one document's rows.
    index: Vec<(DocId, u32)>,
}

impl SegmentVectors {
    fn load(seg: &SegmentReader, model: &str, dim: usize) -> Result<SegmentVectors, IndexError> {
        let mut sv = SegmentVectors {
            docs: Vec::new(),
            rows: vec![0],
            scales: Vec::new(),
            data: Vec::new(),
            index: Vec::new(),
        };
        let ff = seg.fast_fields();
        let (Some(vecs), Some(models)) = (ff.bytes(VEC)?, ff.str(VEC_MODEL)?) else {
            return Ok(sv);
        };
        // The model column's ord of the current model, if any document has it.
        let Some(model_ord) = models.dictionary().term_ord(model.as_bytes())? else {
            return Ok(sv);
        };
        // Dictionary-encoded: read each document's ord, then the values in dictionary order
        // (looking ords up one by one decompresses a block per call), appending rows as they
        // come.
        let mut wanted: Vec<(u64, DocId)> = Vec::new();
        for doc in seg.doc_ids_alive() {
            if models.term_ords(doc).next() != Some(model_ord) {
                continue;
            }
            if let Some(ord) = vecs.term_ords(doc).next() {
                wanted.push((ord, doc));
            }
        }
        wanted.sort_unstable();
        // A key range at a time: keys start with the low byte of the chunk count, so each
        // pass reads a fraction of the column (the bytes read are freed after each pass; see
        // `directory.rs`) instead of the whole of it at once.
        let dict = vecs.dictionary();
        let rows = rows_to_come(&vecs, &wanted)?;
        sv.scales.reserve_exact(rows);
        sv.data.reserve_exact(rows * dim);
        let mut next = 0usize;
        for first in 0..=u8::MAX {
            if next == wanted.len() {
                break;
            }
            let mut range = dict.range().ge([first]);
            if first < u8::MAX {
                range = range.lt([first + 1]);
            }
            let mut stream = range.into_stream()?;
            while next < wanted.len() && stream.advance() {
                let ord = stream.term_ord();
                while next < wanted.len() && wanted[next].0 <= ord {
                    if wanted[next].0 == ord
                        && let Some((d, chunks)) = decode(stream.key())
                        && d == dim
                    {
                        sv.index.push((wanted[next].1, sv.docs.len() as u32));
                        sv.docs.push(wanted[next].1);
                        for (scale, bytes) in chunks {
                            sv.scales.push(scale);
                            sv.data.extend(bytes.iter().map(|x| *x as i8));
                        }
                        sv.rows.push(sv.scales.len() as u32);
                    }
                    next += 1;
                }
            }
        }
        sv.index.sort_unstable();
        sv.docs.shrink_to_fit();
        sv.rows.shrink_to_fit();
        // Exact already, unless a note had 256 chunks or more.
        sv.scales.shrink_to_fit();
        sv.data.shrink_to_fit();
        Ok(sv)
    }

    /// Where `doc`'s rows are in [`Self::docs`].
    fn position(&self, doc: DocId) -> Option<usize> {
        let at = self.index.binary_search_by_key(&doc, |(d, _)| *d).ok()?;
        Some(self.index[at].1 as usize)
    }
}

/// How many rows the `wanted` (ord-sorted) entries hold, so that the buffers are allocated once
/// (growing them by doubling held up to three times the vectors at once). A key starts with the
/// low byte of its chunk count, which is the count itself below 256 chunks; the entries
/// starting with `f` are the ords from where `f`'s range starts to where `f + 1`'s does.
fn rows_to_come(
    column: &tantivy::columnar::BytesColumn,
    wanted: &[(u64, DocId)],
) -> Result<usize, IndexError> {
    let dict = column.dictionary();
    let end = dict.num_terms() as u64;
    let mut starts = Vec::with_capacity(257);
    for first in 0..=u8::MAX {
        // Past the last key every range is empty: no need to look (chunk counts are small).
        if starts.last() == Some(&end) {
            break;
        }
        let mut s = dict.range().ge([first]).limit(1).into_stream()?;
        starts.push(if s.advance() { s.term_ord() } else { end });
    }
    starts.resize(257, end);
    let before = |ord: u64| wanted.partition_point(|w| w.0 < ord);
    Ok((0..256)
        .map(|f| f * (before(starts[f + 1]) - before(starts[f])))
        .sum())
}

/// One brute-force pass over every live note's chunks, run by [`int8::with_dot`] so that the
/// loop is compiled for the CPU's best instruction set with its product inlined (a closure
/// would be compiled once, for the baseline). Measured (scripts/bench-serve.sh, WordLlama, 10k
/// notes), each step: one running sum → 16 lanes, 145–211 → 281–284 requests/s with SSE2;
/// AVX2 chosen at run time, → 619–626; AVX2's `vpmaddwd` (see [`int8`]): 0.41 → 0.28 ms a
/// scan of 30,000 rows.
struct Scan<'a> {
    cache: &'a VectorCache,
    searcher: &'a Searcher,
    qscale: f32,
    keep: &'a dyn Fn(DocAddress) -> bool,
    top: &'a mut TopK,
}

impl int8::WithDot for Scan<'_> {
    type Output = ();

    #[inline(always)]
    fn run<D: int8::Dot>(self, dot: &D) {
        let dim = self.cache.dim;
        for (ord, seg) in self.searcher.segment_readers().iter().enumerate() {
            let Some(sv) = self.cache.segments.get(&seg.segment_id()) else {
                continue;
            };
            let alive = seg.alive_bitset();
            for (i, &doc) in sv.docs.iter().enumerate() {
                if alive.is_some_and(|a| !a.is_alive(doc)) {
                    continue;
                }
                let (start, end) = (sv.rows[i] as usize, sv.rows[i + 1] as usize);
                let mut best = (f32::MIN, 0);
                for r in start..end {
                    let row = &sv.data[r * dim..(r + 1) * dim];
                    let s = dot.dot(row) as f32 * self.qscale * sv.scales[r];
                    if s > best.0 {
                        best = (s, r - start);
                    }
                }
                // The filter is asked only about notes that would make the list.
                if best.0 == f32::MIN || !self.top.would_take(best.0) {
                    continue;
                }
                let addr = DocAddress::new(ord as u32, doc);
                if (self.keep)(addr) {
                    self.top.push(VectorHit {
                        addr,
                        score: best.0,
                        chunk: best.1,
                    });
                }
            }
        }
    }
}

/// The best `k` hits of a scan without sorting every note: hits gather in a buffer of `2k`;
/// when it fills, the best `k` are kept (a linear selection) and the `k`-th score becomes the
/// bar a later hit has to beat.
struct TopK {
    k: usize,
    hits: Vec<VectorHit>,
    bar: f32,
}

impl TopK {
    fn new(k: usize) -> TopK {
        TopK {
            k,
            hits: Vec::with_capacity(2 * k),
            bar: f32::MIN,
        }
    }

    /// Whether a hit could make the list (a tie with the bar can: ties go by address, and
    /// the scan does not run in address order).
    fn would_take(&self, score: f32) -> bool {
        score >= self.bar
    }

    fn push(&mut self, hit: VectorHit) {
        self.hits.push(hit);
        if self.hits.len() == 2 * self.k {
            self.keep_best();
            self.bar = self.hits[self.k - 1].score;
        }
    }

    /// Keeps the best `k`, the `k`-th of them last (ties go to the earlier document).
    fn keep_best(&mut self) {
        self.hits.select_nth_unstable_by(self.k - 1, Self::order);
        self.hits.truncate(self.k);
    }

    fn order(a: &VectorHit, b: &VectorHit) -> std::cmp::Ordering {
        b.score
            .total_cmp(&a.score)
            .then(a.addr.segment_ord.cmp(&b.addr.segment_ord))
            .then(a.addr.doc_id.cmp(&b.addr.doc_id))
    }

    fn into_sorted(mut self) -> Vec<VectorHit> {
        self.hits.sort_unstable_by(Self::order);
        self.hits.truncate(self.k);
        self.hits
    }
}

/// The vectors a reader searches, per segment.
#[derive(Default)]
pub struct VectorCache {
    model: String,
    dim: usize,
    segments: HashMap<SegmentId, Arc<SegmentVectors>>,
}

/// A note's best chunk for a query vector.
#[derive(Debug, Clone, Copy)]
pub struct VectorHit {
    pub addr: DocAddress,
    pub score: f32,
    /// Which of the note's chunks matched best.
    pub chunk: usize,
}

impl VectorCache {
    /// Loads the vectors of segments not seen before and forgets those gone.
    pub fn refresh(
        &mut self,
        searcher: &Searcher,
        model: &str,
        dim: usize,
    ) -> Result<(), IndexError> {
        if self.model != model || self.dim != dim {
            self.segments.clear();
            self.model = model.to_string();
            self.dim = dim;
        }
        let mut next = HashMap::new();
        for seg in searcher.segment_readers() {
            let id = seg.segment_id();
            let sv = match self.segments.remove(&id) {
                Some(sv) => sv,
                None => Arc::new(SegmentVectors::load(seg, model, dim)?),
            };
            next.insert(id, sv);
        }
        self.segments = next;
        Ok(())
    }

    /// Number of documents with vectors of the current model (deleted ones included until
    /// their segment is merged away; callers count live ones through [`Self::search`]).
    pub fn is_empty(&self) -> bool {
        self.segments.values().all(|s| s.docs.is_empty())
    }

    /// Live documents with vectors of the current model.
    pub fn live_count(&self, searcher: &Searcher) -> usize {
        searcher
            .segment_readers()
            .iter()
            .filter_map(|seg| {
                let sv = self.segments.get(&seg.segment_id())?;
                let alive = seg.alive_bitset();
                Some(
                    sv.docs
                        .iter()
                        .filter(|d| alive.is_none_or(|a| a.is_alive(**d)))
                        .count(),
                )
            })
            .sum()
    }

    /// The `k` live documents whose best chunk is most similar to `query` (a unit vector),
    /// each with that chunk; `keep` can veto a document (the query's filters).
    pub fn search(
        &self,
        searcher: &Searcher,
        query: &[f32],
        k: usize,
        keep: &dyn Fn(DocAddress) -> bool,
    ) -> Vec<VectorHit> {
        if query.len() != self.dim || k == 0 {
            return Vec::new();
        }
        let (qscale, q) = quantize(query);
        let mut top = TopK::new(k);
        int8::with_dot(
            &q,
            Scan {
                cache: self,
                searcher,
                qscale,
                keep,
                top: &mut top,
            },
        );
        top.into_sorted()
    }

    /// The chunk vectors of one document (dequantised), for "related notes".
    pub fn vectors_of(&self, searcher: &Searcher, addr: DocAddress) -> Vec<Vec<f32>> {
        let seg = &searcher.segment_readers()[addr.segment_ord as usize];
        let Some(sv) = self.segments.get(&seg.segment_id()) else {
            return Vec::new();
        };
        let Some(i) = sv.position(addr.doc_id) else {
            return Vec::new();
        };
        (sv.rows[i] as usize..sv.rows[i + 1] as usize)
            .map(|r| {
                sv.data[r * self.dim..(r + 1) * self.dim]
                    .iter()
                    .map(|x| f32::from(*x) * sv.scales[r])
                    .collect()
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn top_k_keeps_the_best_in_order_with_ties_to_the_earlier_note_whatever_the_scan_order() {
        for k in [1, 2, 3, 7, 50] {
            let mut top = TopK::new(k);
            let all: Vec<VectorHit> = (0..500u32)
                .map(|d| VectorHit {
                    addr: DocAddress::new(d / 200, d % 200),
                    // Many ties: 37 distinct scores.
                    score: ((d * 7919) % 37) as f32 / 10.0,
                    chunk: 0,
                })
                .collect();
            // Offered out of address order, as segments' rows are.
            for i in 0..all.len() {
                let h = all[(i * 313) % all.len()];
                if top.would_take(h.score) {
                    top.push(h);
                }
            }
            let mut want = all.clone();
            want.sort_by(TopK::order);
            want.truncate(k);
            let got = top.into_sorted();
            let ids = |v: &[VectorHit]| v.iter().map(|h| (h.addr, h.score)).collect::<Vec<_>>();
            assert_eq!(ids(&got), ids(&want), "k = {k}");
        }
    }

    #[test]
    fn encoding_round_trips_within_quantisation_error() {
        let a: Vec<f32> = (0..384).map(|i| ((i as f32) * 0.37).sin()).collect();
        let mut b = a.clone();
        crate::embed::normalize(&mut b);
        let bytes = encode(&[b.clone(), vec![0.0; 384]]);
        let (dim, rows) = decode(&bytes).unwrap();
        assert_eq!((dim, rows.len()), (384, 2));
        let back: Vec<f32> = rows[0]
            .1
            .iter()
            .map(|x| f32::from(*x as i8) * rows[0].0)
            .collect();
        let err = b
            .iter()
            .zip(&back)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(err <= rows[0].0 / 2.0 + 1e-6, "error {err}");
        assert_eq!(rows[1].0, 0.0);
        assert!(decode(&bytes[..bytes.len() - 1]).is_none());
    }

    #[test]
    fn int8_dot_products_rank_like_float_ones() {
        let q: Vec<f32> = (0..64)
            .map(|i| ((i * 7 % 13) as f32 - 6.0) / 10.0)
            .collect();
        let docs: Vec<Vec<f32>> = (0..20)
            .map(|d| {
                (0..64)
                    .map(|i| (((i + d) * 5 % 11) as f32 - 5.0) / 10.0)
                    .collect()
            })
            .collect();
        let exact: Vec<f32> = docs.iter().map(|d| crate::embed::dot(&q, d)).collect();
        let (qs, qq) = quantize(&q);
        let approx: Vec<f32> = docs
            .iter()
            .map(|d| {
                let (ds, dq) = quantize(d);
                int8::dot_portable(&qq, &dq) as f32 * qs * ds
            })
            .collect();
        for (e, a) in exact.iter().zip(&approx) {
            assert!((e - a).abs() < 0.02 * e.abs().max(1.0), "{e} vs {a}");
        }
    }
}
