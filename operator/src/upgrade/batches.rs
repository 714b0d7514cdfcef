//! Which traffic nodes go first (I2).
//!
//! The first batch takes at most `fraction` (default one half, rounded down) of each
//! region's nodes out of rotation, so a region of two or more nodes always keeps nodes
//! serving. A region with a single node follows the declared policy: by default it waits for
//! the second batch, after the new primary serves. The second batch is everything else: once
//! an upgraded master acts, its cluster configuration has every node not yet upgraded out of
//! rotation anyway (the vendor's behaviour), so there is nothing to gain by going slower.

use std::collections::BTreeMap;

use baton_crds::atlas::SingleNodeRegions;

/// A traffic node as the plan sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Node<'a> {
    pub name: &'a str,
    pub region: &'a str,
}

/// The two batches, each sorted by region then name.
pub fn batches(nodes: &[Node<'_>], fraction: f64, single: SingleNodeRegions) -> [Vec<String>; 2] {
    let mut regions: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for n in nodes {
        regions.entry(n.region).or_default().push(n.name);
    }
    let (mut first, mut second) = (Vec::new(), Vec::new());
    for names in regions.values_mut() {
        names.sort_unstable();
        let take = match names.len() {
            1 if single == SingleNodeRegions::FirstBatch => 1,
            1 => 0,
            // Bounded by half however the fraction rounds: at least one node keeps serving.
            n => out_of_rotation_cap(n, fraction),
        };
        first.extend(names[..take].iter().map(|s| (*s).to_owned()));
        second.extend(names[take..].iter().map(|s| (*s).to_owned()));
    }
    [first, second]
}

/// How many of a region's `n` nodes (n >= 2) may be out of rotation at once.
pub fn out_of_rotation_cap(n: usize, fraction: f64) -> usize {
    let by_fraction = (n as f64 * fraction.clamp(0.0, 0.5)).floor() as usize;
    by_fraction.clamp(1, n / 2)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(spec: &[(&'static str, &'static str)]) -> Vec<Node<'static>> {
        spec.iter()
            .map(|(name, region)| Node { name, region })
            .collect()
    }

    fn count_in(batch: &[String], prefix: &str) -> usize {
        batch.iter().filter(|n| n.starts_with(prefix)).count()
    }

    #[test]
    fn never_takes_more_than_half_of_a_region_out_first() {
        let n = nodes(&[
            ("eu-1", "eu"),
            ("us-1", "us"),
            ("us-2", "us"),
            ("ap-1", "ap"),
            ("ap-2", "ap"),
            ("ap-3", "ap"),
            ("ap-4", "ap"),
            ("ap-5", "ap"),
        ]);
        let [first, second] = batches(&n, 0.5, SingleNodeRegions::SecondBatch);
        assert_eq!(count_in(&first, "us"), 1);
        assert_eq!(count_in(&first, "ap"), 2);
        assert_eq!(first.len() + second.len(), n.len());
    }

    #[test]
    fn a_single_node_region_waits_for_the_second_batch_by_default() {
        let n = nodes(&[("eu-1", "eu"), ("us-1", "us"), ("us-2", "us")]);
        let [first, second] = batches(&n, 0.5, SingleNodeRegions::SecondBatch);
        assert!(!first.contains(&"eu-1".to_owned()) && second.contains(&"eu-1".to_owned()));
        let [first, _] = batches(&n, 0.5, SingleNodeRegions::FirstBatch);
        assert!(first.contains(&"eu-1".to_owned()));
    }

    #[test]
    fn a_small_fraction_still_moves_one_node_of_a_region() {
        assert_eq!(out_of_rotation_cap(4, 0.1), 1);
        assert_eq!(out_of_rotation_cap(10, 0.25), 2);
        assert_eq!(out_of_rotation_cap(3, 0.5), 1);
        assert_eq!(out_of_rotation_cap(2, 0.5), 1);
    }

    #[test]
    fn batches_are_deterministic_whatever_the_spec_order() {
        let a = nodes(&[
            ("us-2", "us"),
            ("us-1", "us"),
            ("eu-1", "eu"),
            ("eu-2", "eu"),
        ]);
        let b = nodes(&[
            ("eu-2", "eu"),
            ("us-1", "us"),
            ("eu-1", "eu"),
            ("us-2", "us"),
        ]);
        assert_eq!(
            batches(&a, 0.5, SingleNodeRegions::SecondBatch),
            batches(&b, 0.5, SingleNodeRegions::SecondBatch)
        );
    }
}
