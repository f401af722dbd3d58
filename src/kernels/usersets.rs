//! Exact user-set arithmetic over calendar periods.
//!
//! A period is identified by a dense integer index (day, week or month number, see
//! `crate::calendar`). `PeriodSets` holds, per period, the exact set of users seen in it as a
//! roaring treemap (64-bit ids; negative ids are stored by their two's-complement bits, which keeps
//! them distinct). Every metric of the user family is a set operation on these.

use roaring::RoaringTreemap;
use std::collections::HashMap;

/// Maps a signed user id onto the treemap's unsigned key space, one-to-one.
#[inline]
pub fn user_key(id: i64) -> u64 {
    id as u64
}

/// Users per period, for the contiguous index range `first ..= last`.
#[derive(Debug, Clone)]
pub struct PeriodSets {
    first: i32,
    sets: Vec<RoaringTreemap>,
}

impl PeriodSets {
    /// Empty sets for every period in `first ..= last` (none when `last < first`).
    pub fn new(first: i32, last: i32) -> Self {
        let n = if last >= first {
            (last - first + 1) as usize
        } else {
            0
        };
        PeriodSets {
            first,
            sets: vec![RoaringTreemap::new(); n],
        }
    }

    pub fn first(&self) -> i32 {
        self.first
    }

    pub fn last(&self) -> i32 {
        self.first + self.sets.len() as i32 - 1
    }

    /// Adds users to a period; ids outside the covered range are ignored by design, because the
    /// SQL that feeds this already restricts rows to the covered time range.
    pub fn add<I: IntoIterator<Item = i64>>(&mut self, idx: i32, users: I) {
        if let Some(set) = self.slot_mut(idx) {
            set.extend(users.into_iter().map(user_key));
        }
    }

    /// Adds a whole set of users to a period (rollup merge).
    pub fn merge(&mut self, idx: i32, users: &RoaringTreemap) {
        if let Some(set) = self.slot_mut(idx) {
            *set |= users;
        }
    }

    fn slot_mut(&mut self, idx: i32) -> Option<&mut RoaringTreemap> {
        let off = idx.checked_sub(self.first)?;
        if off < 0 {
            return None;
        }
        self.sets.get_mut(off as usize)
    }

    /// The users of one period; an empty set outside the covered range.
    pub fn get(&self, idx: i32) -> &RoaringTreemap {
        static EMPTY: std::sync::OnceLock<RoaringTreemap> = std::sync::OnceLock::new();
        let off = idx as i64 - self.first as i64;
        if off < 0 || off as usize >= self.sets.len() {
            return EMPTY.get_or_init(RoaringTreemap::new);
        }
        &self.sets[off as usize]
    }

    /// Union of the periods `from ..= to`.
    pub fn union(&self, from: i32, to: i32) -> RoaringTreemap {
        let mut out = RoaringTreemap::new();
        for idx in from..=to {
            out |= self.get(idx);
        }
        out
    }
}

/// Distinct users in each period `from ..= to` and the `window - 1` periods before it.
/// `window = 1` is plain per-period actives; day buckets with window 7 are a rolling WAU.
pub fn rolling_counts(active: &PeriodSets, from: i32, to: i32, window: u32) -> Vec<u64> {
    let w = window.max(1) as i32;
    (from..=to)
        .map(|idx| {
            if w == 1 {
                active.get(idx).len()
            } else {
                active.union(idx - w + 1, idx).len()
            }
        })
        .collect()
}

/// One retention cell. `retained` is `None` when the cell's period was not yet observed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RetentionCell {
    pub cohort: i32,
    pub cohort_size: u64,
    pub offset: u32,
    pub retained: Option<u64>,
}

/// How "retained at offset N" is judged.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetentionMode {
    /// Active in exactly period cohort + N.
    On,
    /// Active in period cohort + N or any later observed period.
    OnOrAfter,
}

/// The retention matrix: for each cohort (period index and its members) and each offset
/// `0 ..= periods`, how many members were retained.
///
/// `observed(idx)` says whether period `idx` had started before `as_of`; unobserved cells are
/// `None`. `active` must cover every observed period from the first cohort on (for `OnOrAfter`,
/// up to the last observed period).
pub fn retention_matrix(
    cohorts: &[(i32, RoaringTreemap)],
    active: &PeriodSets,
    periods: u32,
    mode: RetentionMode,
    observed: impl Fn(i32) -> bool,
) -> Vec<RetentionCell> {
    // For on-or-after, a member counts at offset N when their last observed activity is at or after
    // cohort + N, so one pass over the observed periods replaces a union per cell.
    let last_seen: HashMap<u64, i32> = match mode {
        RetentionMode::On => HashMap::new(),
        RetentionMode::OnOrAfter => {
            let mut m = HashMap::new();
            for idx in active.first()..=active.last() {
                if !observed(idx) {
                    continue;
                }
                for u in active.get(idx) {
                    m.insert(u, idx);
                }
            }
            m
        }
    };
    let mut out = Vec::with_capacity(cohorts.len() * (periods as usize + 1));
    for (cohort, members) in cohorts {
        let size = members.len();
        for offset in 0..=periods {
            let idx = cohort + offset as i32;
            let retained = if !observed(idx) {
                None
            } else if offset == 0 {
                Some(size)
            } else {
                Some(match mode {
                    RetentionMode::On => members.intersection_len(active.get(idx)),
                    RetentionMode::OnOrAfter => members
                        .iter()
                        .filter(|u| last_seen.get(u).is_some_and(|&l| l >= idx))
                        .count() as u64,
                })
            };
            out.push(RetentionCell {
                cohort: *cohort,
                cohort_size: size,
                offset,
                retained,
            });
        }
    }
    out
}

/// Lifecycle counts of one period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Lifecycle {
    pub new: u64,
    pub returning: u64,
    pub resurrecting: u64,
    pub dormant: u64,
}

/// Lifecycle of period `idx`: `new` (active, signed up in this period) takes precedence over
/// `returning` (active now and before) and `resurrecting` (active now, not before, not new);
/// `dormant` were active before and not now.
pub fn lifecycle(active: &PeriodSets, signups: &PeriodSets, idx: i32) -> Lifecycle {
    let now = active.get(idx);
    let before = active.get(idx - 1);
    let joined = signups.get(idx);
    let new = now & joined;
    let returning = (now & before) - joined;
    let resurrecting = (now - before) - joined;
    Lifecycle {
        new: new.len(),
        returning: returning.len(),
        resurrecting: resurrecting.len(),
        dormant: before.difference_len(now),
    }
}

/// Stickiness histogram over the periods `from ..= to`: element `k - 1` is the number of users
/// active in exactly `k` of those periods.
pub fn stickiness(active: &PeriodSets, from: i32, to: i32) -> Vec<u64> {
    let n = if to >= from {
        (to - from + 1) as usize
    } else {
        0
    };
    let mut per_user: HashMap<u64, u32> = HashMap::new();
    for idx in from..=to {
        for u in active.get(idx) {
            *per_user.entry(u).or_default() += 1;
        }
    }
    let mut hist = vec![0u64; n];
    for k in per_user.into_values() {
        hist[k as usize - 1] += 1;
    }
    hist
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sets(first: i32, periods: &[&[i64]]) -> PeriodSets {
        let mut s = PeriodSets::new(first, first + periods.len() as i32 - 1);
        for (i, users) in periods.iter().enumerate() {
            s.add(first + i as i32, users.iter().copied());
        }
        s
    }

    fn tm(users: &[i64]) -> RoaringTreemap {
        users.iter().map(|&u| user_key(u)).collect()
    }

    #[test]
    fn rolling_windows_reach_before_the_range() {
        let a = sets(10, &[&[1, 2], &[2, 3], &[], &[4], &[-1]]);
        assert_eq!(rolling_counts(&a, 12, 14, 1), vec![0, 1, 1]);
        assert_eq!(rolling_counts(&a, 12, 14, 2), vec![2, 1, 2]);
        assert_eq!(rolling_counts(&a, 11, 11, 7), vec![3]);
        // outside the covered range counts as empty, never panics
        assert_eq!(rolling_counts(&a, 100, 101, 3), vec![0, 0]);
    }

    #[test]
    fn negative_ids_stay_distinct() {
        let a = sets(0, &[&[-1, 1, -1, i64::MIN, i64::MAX]]);
        assert_eq!(a.get(0).len(), 4);
    }

    #[test]
    fn retention_on_and_on_or_after() {
        // cohort 0: users 1,2,3. Period 1: user 1. Period 2: user 2. Period 3: nobody.
        let active = sets(0, &[&[1, 2, 3], &[1], &[2], &[]]);
        let cohorts = vec![(0, tm(&[1, 2, 3])), (1, tm(&[]))];
        let on = retention_matrix(&cohorts, &active, 3, RetentionMode::On, |i| i <= 2);
        let got: Vec<_> = on
            .iter()
            .map(|c| (c.cohort, c.offset, c.cohort_size, c.retained))
            .collect();
        assert_eq!(
            got,
            vec![
                (0, 0, 3, Some(3)),
                (0, 1, 3, Some(1)),
                (0, 2, 3, Some(1)),
                (0, 3, 3, None), // period 3 not observed
                (1, 0, 0, Some(0)),
                (1, 1, 0, Some(0)),
                (1, 2, 0, None),
                (1, 3, 0, None),
            ]
        );
        let after = retention_matrix(&cohorts, &active, 2, RetentionMode::OnOrAfter, |i| i <= 2);
        let got: Vec<_> = after
            .iter()
            .filter(|c| c.cohort == 0)
            .map(|c| c.retained)
            .collect();
        // offset 1: users active in period 1 or 2 → {1, 2}; offset 2: period 2 → {2}
        assert_eq!(got, vec![Some(3), Some(2), Some(1)]);
    }

    #[test]
    fn on_or_after_ignores_unobserved_activity() {
        let active = sets(0, &[&[1, 2], &[], &[1]]);
        let cohorts = vec![(0, tm(&[1, 2]))];
        let cells = retention_matrix(&cohorts, &active, 1, RetentionMode::OnOrAfter, |i| i <= 1);
        assert_eq!(cells[1].retained, Some(0));
    }

    #[test]
    fn lifecycle_new_takes_precedence() {
        // period 0: {1,2,3}; period 1: {1,4,5,6}; signups in period 1: {4, 1}
        let active = sets(0, &[&[1, 2, 3], &[1, 4, 5, 6]]);
        let signups = sets(0, &[&[], &[4, 1]]);
        let l = lifecycle(&active, &signups, 1);
        assert_eq!(
            l,
            Lifecycle {
                new: 2,
                returning: 0,
                resurrecting: 2,
                dormant: 2
            }
        );
        let l0 = lifecycle(&active, &signups, 0);
        assert_eq!(
            l0,
            Lifecycle {
                new: 0,
                returning: 0,
                resurrecting: 3,
                dormant: 0
            }
        );
    }

    #[test]
    fn stickiness_histogram_is_zero_filled() {
        let active = sets(0, &[&[1, 2], &[1], &[1, 3], &[]]);
        assert_eq!(stickiness(&active, 0, 3), vec![2, 0, 1, 0]);
        assert_eq!(stickiness(&active, 5, 4), Vec::<u64>::new());
    }
}

/// Version byte of the stored user-set format (then roaring's portable treemap serialization).
pub const USERSET_FORMAT_VERSION: u8 = 1;

/// Encodes a user set for storage (`bytea`): one version byte, then roaring's portable format.
pub fn encode(set: &RoaringTreemap) -> Vec<u8> {
    let mut out = Vec::with_capacity(1 + set.serialized_size());
    out.push(USERSET_FORMAT_VERSION);
    set.serialize_into(&mut out)
        .expect("writing to a Vec cannot fail");
    out
}

/// Decodes a stored user set; an unknown version or corrupt bytes is an error, never a guess.
pub fn decode(bytes: &[u8]) -> Result<RoaringTreemap, String> {
    match bytes.split_first() {
        Some((&USERSET_FORMAT_VERSION, rest)) => {
            RoaringTreemap::deserialize_from(rest).map_err(|e| format!("corrupt user set: {e}"))
        }
        Some((v, _)) => Err(format!("unsupported user set format version {v}")),
        None => Err("empty user set bytes".to_string()),
    }
}

#[cfg(test)]
mod format_tests {
    use super::*;

    #[test]
    fn stored_format_is_pinned() {
        let set: RoaringTreemap = [1u64, 2, 3].into_iter().collect();
        let bytes = encode(&set);
        // version 1, then roaring's portable treemap format: 1 bitmap, key 0, and the bitmap.
        assert_eq!(
            bytes,
            vec![
                1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 58, 48, 0, 0, 1, 0, 0, 0, 0, 0, 2, 0, 16, 0,
                0, 0, 1, 0, 2, 0, 3, 0
            ]
        );
        assert_eq!(decode(&bytes).unwrap(), set);
        assert!(decode(&[2, 0]).is_err());
        assert!(decode(&[]).is_err());
        assert!(decode(&[1, 9, 9]).is_err());
        let big: RoaringTreemap = [user_key(-1), user_key(i64::MAX), 7].into_iter().collect();
        assert_eq!(decode(&encode(&big)).unwrap(), big);
    }
}
