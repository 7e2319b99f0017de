//! The wheel's tests: placement, cascades, exact deadlines, stale items and purges,
//! and a long randomised run checked against a model.

use super::level::{level_for, RANGE_MASK};
use super::purge::STALE_SLACK;
use super::*;

fn ms(n: u64) -> Duration {
    Duration::from_millis(n)
}

#[test]
fn fires_at_the_exact_deadline_not_the_slot() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let d = base + Duration::from_micros(5_300);
    w.insert(d, "a");
    assert_eq!(w.next_deadline(), Some(d));
    let mut fired = Vec::new();
    // Same millisecond, before the deadline: nothing.
    w.advance(base + Duration::from_micros(5_100), &mut fired);
    assert!(fired.is_empty());
    assert_eq!(w.next_deadline(), Some(d));
    w.advance(d, &mut fired);
    assert_eq!(fired.len(), 1);
    assert!(w.is_empty());
}

#[test]
fn cascades_from_every_level() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let offsets = [
        1,
        63,
        64,
        65,
        4095,
        4096,
        300_000,
        20_000_000,
        1_000_000_000,
        60_000_000_000,
    ];
    for &o in &offsets {
        w.insert(base + ms(o), o);
    }
    let mut order = Vec::new();
    let mut fired = Vec::new();
    while let Some(next) = w.next_deadline() {
        w.advance(next, &mut fired);
        for (_, o) in fired.drain(..) {
            order.push(o);
        }
    }
    assert_eq!(order, offsets);
}

#[test]
fn deadlines_beyond_the_range_do_not_fire_early() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let far = base + RANGE * 3 + ms(7);
    w.insert(far, ());
    let mut fired = Vec::new();
    let mut steps = 0;
    while let Some(next) = w.next_deadline() {
        assert!(next <= far);
        w.advance(next, &mut fired);
        steps += 1;
        assert!(steps < 100, "no progress");
    }
    assert_eq!(fired.len(), 1);
    // The wheel only fired once its time reached the real deadline.
    assert_eq!(w.ms(far), w.elapsed);
}

#[test]
fn remove_and_reset() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let a = w.insert(base + ms(10), 'a');
    let b = w.insert(base + ms(20), 'b');
    assert_eq!(w.remove(a), Some('a'));
    assert_eq!(w.remove(a), None);
    assert!(w.reset(b, base + ms(5)));
    assert_eq!(w.next_deadline(), Some(base + ms(5)));
    let c = w.insert(base + ms(1), 'c');
    assert_ne!(a, c, "a reused slot gets a new key");
    let mut fired = Vec::new();
    w.advance(base + ms(30), &mut fired);
    let got: Vec<char> = fired.iter().map(|(_, v)| *v).collect();
    assert_eq!(got, ['c', 'b']);
    assert!(!w.reset(b, base + ms(40)));
    assert!(w.is_empty());
}

#[test]
fn past_deadlines_fire_at_the_next_advance() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let mut fired = Vec::new();
    w.advance(base + ms(100), &mut fired);
    w.insert(base + ms(50), 1);
    w.advance(base + ms(100), &mut fired);
    assert_eq!(fired.len(), 1);
}

#[test]
fn drain_takes_everything() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    w.insert(base + ms(1), 1);
    w.insert(base + RANGE * 10, 2);
    let mut fired = Vec::new();
    w.advance(base + ms(1), &mut fired);
    w.insert(base, 3);
    let mut got = w.drain();
    got.sort();
    assert_eq!(got, [2, 3]);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn a_higher_level_slot_that_starts_first_is_taken_first() {
    // A at 70 ms, set at 0: level 1 (its slot starts at 64). B at 100 ms, set at 40:
    // level 0 (the window slides). Level 1's slot must cascade at 64 although level
    // 0 is not empty, or A would fire at 100.
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let a = w.insert(base + ms(70), 'a');
    let mut fired = Vec::new();
    w.advance(base + ms(40), &mut fired);
    let b = w.insert(base + ms(100), 'b');
    assert_eq!(w.next_deadline(), Some(base + ms(70)));
    w.advance(base + ms(71), &mut fired);
    assert_eq!(fired, [(a, 'a')]);
    assert_eq!(w.next_deadline(), Some(base + ms(100)));
    w.advance(base + ms(100), &mut fired);
    assert_eq!(fired, [(a, 'a'), (b, 'b')]);
}

#[test]
fn stale_items_are_skipped_and_do_not_pile_up() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let a = w.insert(base + ms(5), 'a');
    let b = w.insert(base + ms(10), 'b');
    w.remove(a);
    // A's slot holds only its stale item: the next deadline is B's.
    assert_eq!(w.next_deadline(), Some(base + ms(10)));
    // A timeout pushed back 10,000 times: the stale items are dropped as they go, by
    // passes of a few steps each (a step per reset).
    for i in 0..10_000u64 {
        assert!(w.reset(b, base + ms(20) + Duration::from_micros(i * 7)));
        assert!(
            w.items <= 2 * (2 * w.len() + STALE_SLACK),
            "{} items",
            w.items
        );
    }
    let last = base + ms(20) + Duration::from_micros(9_999 * 7);
    assert_eq!(w.next_deadline(), Some(last));
    let mut fired = Vec::new();
    w.advance(last - Duration::from_nanos(1), &mut fired);
    assert!(fired.is_empty(), "fired early");
    w.advance(last, &mut fired);
    assert_eq!(fired, [(b, 'b')]);
    assert!(w.is_empty());
    assert_eq!(w.next_deadline(), None);
}

#[test]
fn a_stale_item_never_fires_the_entry_that_reuses_its_slot() {
    // A's item at 10 ms goes stale (reset, then removed); B takes A's slab index. The
    // stale item must neither fire B early nor let A's key reach B.
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let a = w.insert(base + ms(10), 'a');
    assert!(w.reset(a, base + ms(20)));
    assert_eq!(w.remove(a), Some('a'));
    let b = w.insert(base + ms(200), 'b');
    assert_ne!(a, b);
    assert_eq!(
        w.get_mut(a),
        None,
        "a stale key does not reach the new entry"
    );
    assert!(!w.reset(a, base + ms(1)));
    let mut fired = Vec::new();
    w.advance(base + ms(50), &mut fired);
    assert!(fired.is_empty(), "fired early: {fired:?}");
    assert_eq!(w.next_deadline(), Some(base + ms(200)));
    w.advance(base + ms(200), &mut fired);
    assert_eq!(fired, [(b, 'b')]);
}

#[test]
fn purge_passes_running_across_operations_lose_and_fire_nothing_wrongly() {
    // Thousands of timers over every level, most of them reset or cancelled many
    // times, interleaved with advances: passes start and run in steps while slots are
    // taken, cascade and move into the due heap. Checked against a model.
    use std::collections::BTreeMap;
    let base = Instant::now();
    let mut w = Wheel::new(base);
    let mut model: BTreeMap<(Instant, u64), Key> = BTreeMap::new();
    let mut live: Vec<(u64, Key, Instant)> = Vec::new();
    let mut now = base;
    let mut x = 0x2545_F491_4F6C_DD1Du64;
    let mut rand = move |n: u64| {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x % n
    };
    let mut fired = Vec::new();
    let mut passes = 0;
    for id in 0..60_000u64 {
        let was_purging = w.purge_at.is_some();
        let op = rand(10);
        if op < 4 || live.is_empty() {
            let d = now + Duration::from_micros(rand(200_000) + rand(3) * rand(5_000_000));
            let k = w.insert(d, id);
            model.insert((d, id), k);
            live.push((id, k, d));
        } else if op < 6 {
            let i = rand(live.len() as u64) as usize;
            let (id, k, d) = live.swap_remove(i);
            assert_eq!(w.remove(k), Some(id));
            model.remove(&(d, id));
        } else if op < 9 {
            let i = rand(live.len() as u64) as usize;
            let (id, k, d) = live[i];
            // Often far ahead: stale items then wait in high levels for a pass.
            let nd = now + Duration::from_micros(rand(300_000) + rand(2) * 5_000_000);
            assert!(w.reset(k, nd));
            model.remove(&(d, id));
            model.insert((nd, id), k);
            live[i].2 = nd;
        } else {
            now += Duration::from_micros(rand(3_000));
            fired.clear();
            w.advance(now, &mut fired);
            let due: Vec<(Instant, u64)> =
                model.range(..=(now, u64::MAX)).map(|(k, _)| *k).collect();
            assert_eq!(fired.len(), due.len(), "exactly the due entries fire");
            let deadline_of: std::collections::HashMap<u64, Instant> =
                due.iter().map(|&(d, id)| (id, d)).collect();
            let got: Vec<Instant> = fired.iter().map(|(_, id)| deadline_of[id]).collect();
            assert!(got.windows(2).all(|p| p[0] <= p[1]), "in deadline order");
            for (d, id) in &due {
                assert!(*d <= now, "never early");
                model.remove(&(*d, *id));
            }
            live.retain(|(id, _, _)| !fired.iter().any(|(_, f)| f == id));
        }
        if was_purging && w.purge_at.is_none() {
            passes += 1;
        }
        assert_eq!(w.len(), model.len());
        assert!(
            w.items <= 2 * (2 * w.len() + STALE_SLACK),
            "{} items",
            w.items
        );
    }
    assert!(passes > 0, "no purge pass ran to its end");
    assert_eq!(w.next_deadline(), model.keys().next().map(|(d, _)| *d));
}

#[test]
fn level_selection() {
    assert_eq!(level_for(0, 0), 0);
    assert_eq!(level_for(0, 63), 0);
    assert_eq!(level_for(0, 64), 1);
    assert_eq!(level_for(60, 70), 0, "level 0 slides: 10 ms ahead");
    assert_eq!(level_for(60, 123), 0);
    assert_eq!(level_for(60, 124), 1);
    assert_eq!(level_for(0, 4095), 1);
    assert_eq!(level_for(0, 4096), 2);
    assert_eq!(level_for(0, RANGE_MASK), 5);
}

/// A timer armed and cancelled over and over (a server's per-request timeout) takes the
/// place of its cancelled predecessor at the end of their slot instead of piling stale
/// items up for the purge to find: the wheel holds one item, not up to `STALE_SLACK`
/// of them. With timers left live in the slot behind it, it still stacks normally, and
/// everything fires at its deadline.
#[test]
fn a_timer_armed_after_a_cancelled_one_takes_its_place_in_the_slot() {
    let base = Instant::now();
    let mut w = Wheel::new(base);
    for i in 0..10_000u64 {
        let k = w.insert_nanos(90_000 * NANOS_PER_MS + i, i);
        assert_eq!(w.items, 1, "after insert {i}");
        assert_eq!(w.remove(k), Some(i));
    }
    assert!(w.is_empty());
    // A live timer at the slot's end is kept; the next one stacks behind it.
    let live = w.insert_nanos(90_000 * NANOS_PER_MS, 1);
    let gone = w.insert_nanos(90_000 * NANOS_PER_MS + 1, 2);
    assert_eq!(w.remove(gone), Some(2));
    let kept = w.insert_nanos(90_000 * NANOS_PER_MS + 2, 3);
    assert_eq!(
        w.items, 2,
        "the cancelled item was replaced, the live one kept"
    );
    let mut fired = Vec::new();
    w.advance(base + ms(90_001), &mut fired);
    let keys: Vec<Key> = fired.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, vec![live, kept]);
    assert_eq!(w.items, 0);
}
