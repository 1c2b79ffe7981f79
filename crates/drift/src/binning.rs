//! Bin edges and the hot loop that puts values into bins.
//!
//! Counting a column into up to 16 bins does not search per value: it counts, per edge, how many
//! values reach it (a vectorised compare-and-count) and takes differences. Single values, and
//! profiles with more bins, use a branchless binary search over edges padded with `+inf` to a
//! power of two. NaN compares false everywhere and is routed to the missing slot.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;

/// Pre-processed edges for fast lookup.
#[derive(Debug, Clone)]
pub struct EdgeIndex {
    /// Edges padded with +inf to 16 entries (fast path, up to 16 bins).
    small: Option<[f64; 16]>,
    padded: Vec<f64>,
    half: usize,
    last: usize,
}

impl EdgeIndex {
    /// `edges` are internal cut points (ascending); there are `edges.len() + 1` bins.
    pub fn new(edges: &[f64]) -> Self {
        let bins = edges.len() + 1;
        let p = bins.next_power_of_two();
        let mut padded = Vec::with_capacity(p);
        padded.extend_from_slice(edges);
        padded.resize(p, f64::INFINITY);
        let small = (bins <= 16).then(|| {
            let mut a = [f64::INFINITY; 16];
            a[..edges.len()].copy_from_slice(edges);
            a
        });
        Self {
            small,
            padded,
            half: p / 2,
            last: bins - 1,
        }
    }

    /// Number of value bins.
    pub fn bins(&self) -> usize {
        self.last + 1
    }

    /// Bin of a non-NaN value: the number of edges `<= x` (±inf land in the edge bins).
    #[inline(always)]
    pub fn bin(&self, x: f64) -> usize {
        match &self.small {
            Some(e) => bin16(e, x).min(self.last),
            None => self.bin_general(x),
        }
    }

    #[inline(always)]
    fn bin_general(&self, x: f64) -> usize {
        let mut i = 0usize;
        let mut step = self.half;
        while step > 0 {
            let cand = i + step;
            let e = self.padded.get(cand - 1).copied().unwrap_or(f64::INFINITY);
            i += usize::from(x >= e) * step;
            step >>= 1;
        }
        i.min(self.last)
    }

    /// Count values into `counts` (len = bins + 1; the last slot counts NaN).
    pub fn count_into(&self, values: &[f64], counts: &mut [u64]) {
        let missing = self.bins();
        match &self.small {
            Some(e) => count16(e, self.last, values, counts),
            None => {
                for &x in values {
                    let b = if x.is_nan() {
                        missing
                    } else {
                        self.bin_general(x)
                    };
                    counts[b] += 1;
                }
            }
        }
    }
}

/// Branchless search over 15 usable edges: four compare-and-add steps, no data-dependent
/// branches, indices masked so no bounds checks remain.
#[inline(always)]
fn bin16(e: &[f64; 16], x: f64) -> usize {
    let mut i = 0usize;
    i += usize::from(x >= e[7]) << 3;
    i += usize::from(x >= e[(i + 3) & 15]) << 2;
    i += usize::from(x >= e[(i + 1) & 15]) << 1;
    i += usize::from(x >= e[i & 15]);
    i
}

fn count16(e: &[f64; 16], last: usize, values: &[f64], counts: &mut [u64]) {
    // Counting instead of searching: the number of values in bin k is
    // `#(x >= edge[k-1]) - #(x >= edge[k])`, and each `#(x >= edge)` is a compare-and-count
    // reduction the compiler vectorises, with no per-value histogram write at all. Blocks of
    // 1024 values stay in L1 while every edge passes over them. NaN reaches no edge (it would
    // land in bin 0) and is counted separately into the missing slot.
    let edges = &e[..last];
    let mut ge = [0u64; 16];
    let mut nan = 0u64;
    for block in values.chunks(1024) {
        for (g, &edge) in ge.iter_mut().zip(edges) {
            *g += block.iter().filter(|&&x| x >= edge).count() as u64;
        }
        nan += block.iter().filter(|x| x.is_nan()).count() as u64;
    }
    let n = values.len() as u64;
    let mut prev = n - nan;
    for (k, &g) in ge.iter().take(edges.len()).enumerate() {
        counts[k] += prev - g;
        prev = g;
    }
    counts[last] += prev;
    counts[last + 1] += nan;
}

/// Quantile edges from sorted finite values: `bins − 1` cut points at equal reference mass,
/// duplicates removed (heavily tied data gets fewer bins rather than empty ones).
pub fn quantile_edges(sorted: &[f64], bins: usize) -> Vec<f64> {
    let mut edges = Vec::with_capacity(bins.saturating_sub(1));
    if sorted.is_empty() || bins < 2 {
        return edges;
    }
    for k in 1..bins {
        if let Some(e) = crate::stats::quantile_sorted(sorted, k as f64 / bins as f64) {
            push_edge(&mut edges, e);
        }
    }
    // An edge equal to the minimum would leave bin 0 empty by construction; drop it.
    if let (Some(&first), Some(&min)) = (edges.first(), sorted.first())
        && first <= min
    {
        edges.remove(0);
    }
    edges
}

/// Equal-width edges between `min` and `max` (`bins − 1` internal cut points).
pub fn equal_width_edges(min: f64, max: f64, bins: usize) -> Vec<f64> {
    let mut edges = Vec::new();
    if !(min.is_finite() && max.is_finite()) || max <= min || bins < 2 {
        return edges;
    }
    let width = (max - min) / bins as f64;
    for k in 1..bins {
        push_edge(&mut edges, min + width * k as f64);
    }
    edges
}

/// Evidently's numeric bins: numpy `histogram_bin_edges(ref ∪ cur, bins="sturges")`.
///
/// numpy takes width = ptp / (log2(n) + 1), then `ceil(ptp / width)` equal bins from `linspace`
/// (start + i·step, last edge set to max exactly). Returns the *internal* edges.
pub fn sturges_edges(min: f64, max: f64, n: u64) -> Vec<f64> {
    if !(min.is_finite() && max.is_finite()) || n == 0 {
        return Vec::new();
    }
    let (first, last) = if min == max {
        (min - 0.5, max + 0.5)
    } else {
        (min, max)
    };
    let ptp = max - min;
    let nbins = if ptp > 0.0 {
        let width = ptp / ((n as f64).log2() + 1.0);
        ((last - first) / width).ceil().max(1.0) as usize
    } else {
        1
    };
    let step = (last - first) / nbins as f64;
    (1..nbins).map(|i| i as f64 * step + first).collect()
}

fn push_edge(edges: &mut Vec<f64>, e: f64) {
    if e.is_finite() && edges.last().is_none_or(|&l| e > l) {
        edges.push(e);
    }
}

/// Groups of adjacent bins with roughly equal reference mass: the small-sample bin choice.
///
/// Returns for each original bin the index of its group. Bins are never split, only merged, so
/// the counts of a profile stay exact.
pub fn merge_groups(ref_counts: &[u64], target: usize) -> Vec<usize> {
    let b = ref_counts.len();
    if target >= b || b == 0 {
        return (0..b).collect();
    }
    let target = target.max(1);
    let total: u64 = ref_counts.iter().sum();
    // cum[j] = reference mass of bins 0..j (cut "before bin j").
    let mut cum = Vec::with_capacity(b + 1);
    cum.push(0u64);
    for &c in ref_counts {
        cum.push(cum.last().copied().unwrap_or(0) + c);
    }
    let mut cuts = Vec::with_capacity(target - 1);
    let mut prev = 0usize;
    for k in 1..target {
        let boundary = if total == 0 {
            (k * b) as f64 / target as f64
        } else {
            k as f64 * total as f64 / target as f64
        };
        let lo = prev + 1;
        let hi = b - (target - k); // leave at least one bin per remaining group
        let mut best = lo;
        let mut best_d = f64::INFINITY;
        for (j, &cj) in cum.iter().enumerate().take(hi + 1).skip(lo) {
            let pos = if total == 0 { j as f64 } else { cj as f64 };
            let d = (pos - boundary).abs();
            if d < best_d {
                best_d = d;
                best = j;
            }
        }
        cuts.push(best);
        prev = best;
    }
    let mut groups = vec![0; b];
    let mut g = 0;
    for (i, slot) in groups.iter_mut().enumerate() {
        while g < cuts.len() && i >= cuts[g] {
            g += 1;
        }
        *slot = g;
    }
    groups
}

/// Uniform sample of bounded size (Li's "Algorithm L"), seeded so results are reproducible.
///
/// Holds every value while fewer than `capacity` have been seen (quantiles are then exact);
/// beyond that each value is kept with equal probability, at O(capacity · log(n / capacity))
/// random draws in total.
#[derive(Debug, Clone)]
pub struct Reservoir {
    capacity: usize,
    items: Vec<f64>,
    seen: u64,
    next: u64,
    w: f64,
    rng: ChaCha8Rng,
}

impl Reservoir {
    /// Empty reservoir.
    pub fn new(capacity: usize, seed: u64) -> Self {
        let capacity = capacity.max(1);
        Self {
            capacity,
            items: Vec::new(),
            seen: 0,
            next: 0,
            w: 1.0,
            rng: ChaCha8Rng::seed_from_u64(seed),
        }
    }

    /// Offer finite values (callers filter NaN / inf).
    pub fn extend(&mut self, values: &[f64]) {
        let mut rest = values;
        if self.items.len() < self.capacity {
            let take = (self.capacity - self.items.len()).min(rest.len());
            self.items.extend_from_slice(&rest[..take]);
            self.seen += take as u64;
            rest = &rest[take..];
            if self.items.len() == self.capacity {
                self.w = self.draw_w();
                self.next = self.seen + self.skip();
            }
        }
        // Skip phase: `next` is the stream index of the next accepted value.
        let end = self.seen + rest.len() as u64;
        while self.items.len() == self.capacity && self.next < end {
            let offset = (self.next - self.seen) as usize;
            let slot = self.rng.random_range(0..self.capacity);
            self.items[slot] = rest[offset];
            self.w *= self.draw_w();
            self.next += 1 + self.skip();
        }
        self.seen = end;
    }

    fn draw_w(&mut self) -> f64 {
        let u: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
        (u.ln() / self.capacity as f64).exp()
    }

    fn skip(&mut self) -> u64 {
        let u: f64 = self.rng.random::<f64>().max(f64::MIN_POSITIVE);
        let s = (u.ln() / (1.0 - self.w).ln()).floor();
        if s.is_finite() && s >= 0.0 {
            s.min(1e18) as u64
        } else {
            0
        }
    }

    /// Sorted copy of the sample.
    pub fn sorted(&self) -> Vec<f64> {
        let mut v = self.items.clone();
        v.sort_unstable_by(f64::total_cmp);
        v
    }

    /// Combine two disjoint samples into one uniform sample of the union (each side kept in
    /// proportion to the values it has seen). Deterministic given the seed state.
    pub fn merge(mut self, other: Reservoir) -> Reservoir {
        let total = self.seen + other.seen;
        if total == 0 {
            return self;
        }
        if self.items.len() + other.items.len() <= self.capacity
            && self.items.len() as u64 == self.seen
            && other.items.len() as u64 == other.seen
        {
            self.items.extend_from_slice(&other.items);
            self.seen = total;
            return self;
        }
        let take_self = ((self.capacity as f64) * self.seen as f64 / total as f64).round() as usize;
        let take_self = take_self.min(self.items.len());
        let take_other = (self.capacity - take_self).min(other.items.len());
        let mut a = self.items.clone();
        let mut b = other.items;
        partial_shuffle(&mut a, take_self, &mut self.rng);
        partial_shuffle(&mut b, take_other, &mut self.rng);
        a.truncate(take_self);
        a.extend_from_slice(&b[..take_other]);
        self.items = a;
        self.seen = total;
        self.w = self.draw_w();
        self.next = self.seen + self.skip();
        self
    }

    /// Values seen so far.
    pub fn seen(&self) -> u64 {
        self.seen
    }
}

fn partial_shuffle(v: &mut [f64], k: usize, rng: &mut ChaCha8Rng) {
    let n = v.len();
    for i in 0..k.min(n) {
        let j = rng.random_range(i..n);
        v.swap(i, j);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bin_lookup_matches_definition() {
        let edges = [-1.0, 0.0, 2.5];
        let idx = EdgeIndex::new(&edges);
        assert_eq!(idx.bins(), 4);
        let cases = [
            (f64::NEG_INFINITY, 0),
            (-5.0, 0),
            (-1.0, 1),
            (-0.5, 1),
            (0.0, 2),
            (2.49, 2),
            (2.5, 3),
            (1e300, 3),
            (f64::INFINITY, 3),
        ];
        for (x, b) in cases {
            assert_eq!(idx.bin(x), b, "x={x}");
        }
        let mut counts = vec![0; 5];
        idx.count_into(
            &[f64::NAN, -2.0, 0.1, 3.0, 3.0, f64::INFINITY, -1.0],
            &mut counts,
        );
        assert_eq!(counts, vec![1, 1, 1, 3, 1]);
    }

    proptest::proptest! {
        /// The counting kernel agrees with the per-value search, for any edges (1..16 bins),
        /// values on the edges, ±inf, NaN, and lengths across block boundaries; counts add on.
        #[test]
        fn counting_matches_per_value_search(
            mut edges in proptest::collection::vec(-10.0f64..10.0, 0..15),
            picks in proptest::collection::vec((0u8..4, -12.0f64..12.0, 0usize..15), 0..2500),
        ) {
            edges.sort_by(f64::total_cmp);
            edges.dedup();
            let idx = EdgeIndex::new(&edges);
            let values: Vec<f64> = picks
                .iter()
                .map(|&(kind, x, e)| match kind {
                    0 => f64::NAN,
                    1 => if x < 0.0 { f64::NEG_INFINITY } else { f64::INFINITY },
                    2 => edges.get(e).copied().unwrap_or(x),
                    _ => x,
                })
                .collect();
            let mut want = vec![0u64; idx.bins() + 1];
            for &x in &values {
                want[if x.is_nan() { idx.bins() } else { idx.bin(x) }] += 1;
            }
            let mut got = vec![1u64; idx.bins() + 1];
            idx.count_into(&values, &mut got);
            let got: Vec<u64> = got.iter().map(|c| c - 1).collect();
            proptest::prop_assert_eq!(got, want);
        }
    }

    #[test]
    fn fast_path_matches_general_search() {
        use rand::{Rng, SeedableRng};
        let mut rng = ChaCha8Rng::seed_from_u64(3);
        for k in 0..40 {
            let mut edges: Vec<f64> = (0..(k % 20)).map(|_| rng.random_range(-5.0..5.0)).collect();
            edges.sort_by(f64::total_cmp);
            edges.dedup();
            let idx = EdgeIndex::new(&edges);
            let values: Vec<f64> = (0..1000)
                .map(|i| match i % 50 {
                    0 => f64::NAN,
                    1 => f64::INFINITY,
                    2 => f64::NEG_INFINITY,
                    3 => edges.first().copied().unwrap_or(0.0),
                    _ => rng.random_range(-6.0..6.0),
                })
                .collect();
            let mut fast = vec![0u64; idx.bins() + 1];
            idx.count_into(&values, &mut fast);
            let mut slow = vec![0u64; idx.bins() + 1];
            for &x in &values {
                let b = if x.is_nan() {
                    idx.bins()
                } else {
                    edges.iter().filter(|&&e| e <= x).count()
                };
                slow[b] += 1;
            }
            assert_eq!(fast, slow, "edges {edges:?}");
        }
    }

    #[test]
    fn no_edges_single_bin() {
        let idx = EdgeIndex::new(&[]);
        assert_eq!(idx.bin(3.0), 0);
        assert_eq!(idx.bin(f64::INFINITY), 0);
    }

    #[test]
    fn sturges_like_numpy() {
        // numpy.histogram_bin_edges(np.arange(10.), bins="sturges"):
        // 5 bins: [0, 1.8, 3.6, 5.4, 7.2, 9]
        let e = sturges_edges(0.0, 9.0, 10);
        assert_eq!(e.len(), 4);
        for (a, b) in e.iter().zip([1.8, 3.6, 5.4, 7.2]) {
            assert!((a - b).abs() < 1e-12);
        }
        // 1000 points: ceil(log2(1000) + 1) = 11 bins
        assert_eq!(sturges_edges(0.0, 1.0, 1000).len(), 10);
    }

    #[test]
    fn quantile_edges_dedupe() {
        let v = [1.0, 1.0, 1.0, 1.0, 2.0, 3.0];
        let e = quantile_edges(&v, 4);
        assert!(e.windows(2).all(|w| w[0] < w[1]));
        assert!(e.iter().all(|&x| x > 1.0));
    }

    #[test]
    fn merge_groups_equal_mass() {
        let g = merge_groups(&[5; 10], 4);
        assert_eq!(g.len(), 10);
        assert_eq!(g[0], 0);
        assert_eq!(g[9], 3);
        assert!(g.windows(2).all(|w| w[1] == w[0] || w[1] == w[0] + 1));
        let g2 = merge_groups(&[5; 10], 2);
        assert_eq!(g2, vec![0, 0, 0, 0, 0, 1, 1, 1, 1, 1]);
        assert_eq!(merge_groups(&[5; 3], 10), vec![0, 1, 2]);
    }

    #[test]
    fn reservoir_exact_when_small_and_bounded_when_large() {
        let mut r = Reservoir::new(100, 1);
        r.extend(&[3.0, 1.0, 2.0]);
        assert_eq!(r.sorted(), vec![1.0, 2.0, 3.0]);
        let data: Vec<f64> = (0..100_000).map(f64::from).collect();
        let mut r = Reservoir::new(1000, 7);
        for c in data.chunks(777) {
            r.extend(c);
        }
        assert_eq!(r.seen(), 100_000);
        let s = r.sorted();
        assert_eq!(s.len(), 1000);
        let med = crate::stats::quantile_sorted(&s, 0.5).unwrap_or(0.0);
        assert!((med - 50_000.0).abs() < 5_000.0, "median {med}");
    }
}
