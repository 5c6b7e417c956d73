//! The weights of lexical ranking, in one place.
//!
//! The defaults are the tuned values (see `scripts/eval.sh` for the collections and figures).
//! `VAULTMCP_RANKING` overrides some of them for one process, as `name=value` pairs separated
//! by commas (`VAULTMCP_RANKING=feedback_weight=0,tie_breaker=0.3`): that is how the eval
//! scripts measure what each part is worth. It is an evaluation knob, not a setting: an unknown
//! name or a bad value is reported once and ignored.

use std::sync::OnceLock;

/// Lexical ranking weights.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Field weights for free text: title and aliases above headings above tags above body.
    pub title: f32,
    pub alias: f32,
    pub heading: f32,
    pub tag: f32,
    pub body: f32,
    /// Property values count, but below the body.
    pub props: f32,
    /// How much of the non-best fields' scores counts (0: best field only, 1: sum).
    pub tie_breaker: f32,
    /// Weight of two neighbouring query words found near each other, in order.
    pub proximity: f32,
    pub proximity_slop: u32,
    /// Extra weight of a word the query repeats, per repetition.
    pub repeat: f32,
    /// Typo matches score below any exact match.
    pub fuzzy: f32,
    /// Pseudo-relevance feedback: queries of at least `feedback_min_words` words are expanded
    /// with the `feedback_terms` words most typical of the first `feedback_docs` results.
    pub feedback_min_words: usize,
    pub feedback_docs: usize,
    pub feedback_terms: usize,
    /// Weight of the best expansion word (the others scale down from it).
    pub feedback_weight: f32,
    /// A feedback note weighs `(score / best score) ^ feedback_doc_power`: the best results
    /// speak for the query much more than the tenth.
    pub feedback_doc_power: f32,
    /// Feedback is only as strong as the first results are distinct: with `s1` the first
    /// result's score and `sk` the `feedback_gate_rank`-th's, the expansion keeps its full
    /// weight while `sk / s1 <= feedback_confident`, none from `feedback_flat` on, and fades
    /// linearly between. (Measured: on a flat first page, feedback drifts to the wrong notes.)
    pub feedback_gate_rank: usize,
    pub feedback_confident: f32,
    pub feedback_flat: f32,
    /// Share of the semantic score in a hybrid score (the rest is the lexical one).
    pub semantic_weight: f32,
}

impl Default for Ranking {
    fn default() -> Self {
        Ranking {
            title: 1.5,
            alias: 1.5,
            heading: 1.3,
            tag: 1.2,
            body: 1.0,
            props: 0.3,
            tie_breaker: 0.5,
            proximity: 0.4,
            proximity_slop: 6,
            repeat: 0.5,
            fuzzy: 0.2,
            feedback_min_words: 4,
            feedback_docs: 12,
            feedback_terms: 10,
            feedback_weight: 1.5,
            feedback_doc_power: 6.0,
            feedback_gate_rank: 5,
            feedback_confident: 0.6,
            feedback_flat: 1.0,
            semantic_weight: super::hybrid::SEMANTIC_WEIGHT,
        }
    }
}

impl Ranking {
    /// How much of the feedback weight applies, given the first results' scores (best first).
    pub fn feedback_share(&self, scores: &[f32]) -> f32 {
        let (Some(&first), Some(&kth)) = (
            scores.first(),
            scores.get(self.feedback_gate_rank.saturating_sub(1)),
        ) else {
            // Fewer results than the gate looks at: they stand out by definition.
            return 1.0;
        };
        if first <= 0.0 {
            return 0.0;
        }
        let ratio = kth / first;
        if ratio <= self.feedback_confident {
            1.0
        } else if ratio >= self.feedback_flat {
            0.0
        } else {
            (self.feedback_flat - ratio) / (self.feedback_flat - self.feedback_confident)
        }
    }

    /// The weights in force: the defaults, with `VAULTMCP_RANKING` applied.
    pub fn current() -> &'static Ranking {
        static CURRENT: OnceLock<Ranking> = OnceLock::new();
        CURRENT.get_or_init(|| {
            let mut r = Ranking::default();
            if let Ok(spec) = std::env::var("VAULTMCP_RANKING") {
                for problem in r.apply(&spec) {
                    tracing::warn!("VAULTMCP_RANKING: {problem}");
                }
            }
            r
        })
    }

    /// Applies `name=value,...` overrides; returns what could not be applied.
    pub fn apply(&mut self, spec: &str) -> Vec<String> {
        let mut problems = Vec::new();
        for pair in spec.split(',').map(str::trim).filter(|p| !p.is_empty()) {
            let Some((name, value)) = pair.split_once('=') else {
                problems.push(format!("{pair:?} is not name=value"));
                continue;
            };
            if let Err(e) = self.set(name.trim(), value.trim()) {
                problems.push(e);
            }
        }
        problems
    }

    fn set(&mut self, name: &str, value: &str) -> Result<(), String> {
        fn num<T: std::str::FromStr>(name: &str, value: &str) -> Result<T, String> {
            value
                .parse()
                .map_err(|_| format!("{name}: {value:?} is not a number of the right kind"))
        }
        match name {
            "title" => self.title = num(name, value)?,
            "alias" => self.alias = num(name, value)?,
            "heading" => self.heading = num(name, value)?,
            "tag" => self.tag = num(name, value)?,
            "body" => self.body = num(name, value)?,
            "props" => self.props = num(name, value)?,
            "tie_breaker" => self.tie_breaker = num(name, value)?,
            "proximity" => self.proximity = num(name, value)?,
            "proximity_slop" => self.proximity_slop = num(name, value)?,
            "repeat" => self.repeat = num(name, value)?,
            "fuzzy" => self.fuzzy = num(name, value)?,
            "feedback_min_words" => self.feedback_min_words = num(name, value)?,
            "feedback_docs" => self.feedback_docs = num(name, value)?,
            "feedback_terms" => self.feedback_terms = num(name, value)?,
            "feedback_weight" => self.feedback_weight = num(name, value)?,
            "feedback_gate_rank" => self.feedback_gate_rank = num(name, value)?,
            "feedback_doc_power" => self.feedback_doc_power = num(name, value)?,
            "feedback_confident" => self.feedback_confident = num(name, value)?,
            "feedback_flat" => self.feedback_flat = num(name, value)?,
            "semantic_weight" => self.semantic_weight = num(name, value)?,
            _ => return Err(format!("unknown weight {name:?}")),
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_and_bad_ones_are_reported() {
        let mut r = Ranking::default();
        let problems = r.apply("feedback_weight=0, tie_breaker=0.25,nonsense=1,title=x,loose");
        assert_eq!(r.feedback_weight, 0.0);
        assert_eq!(r.tie_breaker, 0.25);
        assert_eq!(r.title, Ranking::default().title);
        assert_eq!(problems.len(), 3, "{problems:?}");
    }

    #[test]
    fn feedback_fades_as_the_first_results_flatten() {
        let r = Ranking {
            feedback_gate_rank: 3,
            feedback_confident: 0.5,
            feedback_flat: 1.0,
            ..Ranking::default()
        };
        // A clear first page, a flat one, one between, and too few results to judge.
        assert_eq!(r.feedback_share(&[10.0, 6.0, 4.0, 1.0]), 1.0);
        assert_eq!(r.feedback_share(&[10.0, 10.0, 10.0]), 0.0);
        assert!((r.feedback_share(&[10.0, 9.0, 7.5]) - 0.5).abs() < 1e-6);
        assert_eq!(r.feedback_share(&[10.0, 2.0]), 1.0);
    }
}
