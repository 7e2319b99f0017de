//! The wheel against a `BTreeMap` model, over random sequences of insert, cancel, reset
//! and advance: exactly the due entries fire, in deadline order, never early.

#![cfg(not(weft_loom))]

use proptest::prelude::*;
use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};
use weft_timer::wheel::{Key, Wheel};

#[derive(Debug, Clone)]
enum Op {
    /// Insert at now + this many microseconds.
    Insert(u64),
    /// Cancel the n-th live entry (modulo the count).
    Cancel(usize),
    /// Move the n-th live entry to now + this many microseconds.
    Reset(usize, u64),
    /// Advance time by this many microseconds.
    Advance(u64),
}

/// Offsets spanning every level: sub-millisecond, a few ms, seconds, hours, past the range.
fn offset() -> impl Strategy<Value = u64> {
    prop_oneof![
        0u64..2_000,
        0u64..70_000,
        0u64..200_000, // across 64 ms boundaries: level 0 slides, level 1 is aligned
        0u64..5_000_000,
        0u64..300_000_000,
        0u64..20_000_000_000,
        Just(80_000_000_000_000u64), // ~2.5 years: beyond the wheel's range
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => offset().prop_map(Op::Insert),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), offset()).prop_map(|(i, o)| Op::Reset(i, o)),
        3 => offset().prop_map(Op::Advance),
    ]
}

/// Near 64 ms boundaries: level 0 slides with time, level 1 is aligned, and a level-1
/// slot may start before level 0's next entry.
fn near_op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0u64..130_000).prop_map(Op::Insert),
        1 => any::<usize>().prop_map(Op::Cancel),
        1 => (any::<usize>(), 0u64..130_000).prop_map(|(i, o)| Op::Reset(i, o)),
        3 => (0u64..25_000).prop_map(Op::Advance),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn wheel_matches_model(ops in proptest::collection::vec(op(), 1..120)) {
        check(ops)?;
    }

    #[test]
    fn wheel_matches_model_near_boundaries(ops in proptest::collection::vec(near_op(), 1..120)) {
        check(ops)?;
    }
}

/// Runs `ops` on a wheel and on the model, comparing after every step.
fn check(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let base = Instant::now();
    let mut now = base;
    let mut wheel = Wheel::new(base);
    // Model: (deadline, id) -> (), plus id -> (key, deadline).
    let mut model: BTreeMap<(Instant, u64), ()> = BTreeMap::new();
    let mut live: HashMap<u64, (Key, Instant)> = HashMap::new();
    let mut by_key: HashMap<Key, u64> = HashMap::new();
    let mut next_id = 0u64;
    let mut fired = Vec::new();
    for op in ops {
        match op {
            Op::Insert(us) => {
                let d = now + Duration::from_micros(us);
                let k = wheel.insert(d, next_id);
                model.insert((d, next_id), ());
                live.insert(next_id, (k, d));
                by_key.insert(k, next_id);
                next_id += 1;
            }
            Op::Cancel(n) if !live.is_empty() => {
                let mut ids: Vec<u64> = live.keys().copied().collect();
                ids.sort();
                let id = ids[n % ids.len()];
                let (k, d) = live.remove(&id).unwrap();
                prop_assert_eq!(wheel.remove(k), Some(id));
                prop_assert_eq!(wheel.remove(k), None);
                model.remove(&(d, id));
                by_key.remove(&k);
            }
            Op::Reset(n, us) if !live.is_empty() => {
                let mut ids: Vec<u64> = live.keys().copied().collect();
                ids.sort();
                let id = ids[n % ids.len()];
                let (k, d) = live[&id];
                let nd = now + Duration::from_micros(us);
                prop_assert!(wheel.reset(k, nd));
                model.remove(&(d, id));
                model.insert((nd, id), ());
                live.insert(id, (k, nd));
            }
            Op::Advance(us) => {
                now += Duration::from_micros(us);
                fired.clear();
                wheel.advance(now, &mut fired);
                // Expected: every model entry with deadline <= now.
                let due: Vec<(Instant, u64)> =
                    model.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
                let got: Vec<u64> = fired.iter().map(|(_, id)| *id).collect();
                let got_deadlines: Vec<Instant> = got.iter().map(|id| live[id].1).collect();
                // Never early.
                for d in &got_deadlines {
                    prop_assert!(*d <= now);
                }
                // In deadline order.
                prop_assert!(got_deadlines.windows(2).all(|w| w[0] <= w[1]));
                // Exactly the due ones.
                let mut got_sorted = got.clone();
                got_sorted.sort();
                let mut want: Vec<u64> = due.iter().map(|(_, id)| *id).collect();
                want.sort();
                prop_assert_eq!(got_sorted, want);
                for (k, id) in &fired {
                    prop_assert_eq!(by_key.remove(k), Some(*id));
                    let (_, d) = live.remove(id).unwrap();
                    model.remove(&(d, *id));
                }
            }
            _ => {}
        }
        prop_assert_eq!(wheel.len(), model.len());
        // Counting the entries not due by an instant looks without firing.
        for later in [0, 1_000, 70_000, 5_000_000] {
            let t = now + Duration::from_micros(later);
            let want = model.keys().filter(|(d, _)| *d > t).count();
            prop_assert_eq!(wheel.len_after(t), want);
        }
        // The wheel's next deadline is the model's earliest.
        prop_assert_eq!(wheel.next_deadline(), model.keys().next().map(|(d, _)| *d));
    }
    Ok(())
}
