//! `is_match` must not allocate: the host engine calls it for thousands of rules per event.
//! The allocator below counts allocations made by the test's own thread while it asks it to
//! (the test harness allocates on other threads meanwhile).

// A counting allocator needs `unsafe impl GlobalAlloc`; it only forwards to the system one.
#![allow(unsafe_code)]

use picket_matchers::{Dialect, Pattern};
use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        if COUNTING.try_with(Cell::get).unwrap_or(false) {
            let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        }
        // SAFETY: forwarded unchanged to the system allocator.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `alloc` above, i.e. from the system allocator.
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

#[test]
fn is_match_does_not_allocate() {
    let patterns = [
        (Dialect::OsMatch, "Failed password|Invalid user|^sshd"),
        (Dialect::OsMatch, "authentication failure"),
        (
            Dialect::OsRegex,
            r"^Failed \S+ for (\S+) from (\S+) port (\d+)",
        ),
        (Dialect::OsRegex, r"(\S+)\s+:\s+HOST|user=(\w+)"),
        (Dialect::OsRegex, r"\d+\.\d+\.\d+\.\d+"),
        (Dialect::Pcre2, r"port (\d+) ssh2$"),
        (Dialect::Pcre2, r"user=(\w+) rhost=(\S+)"),
        (Dialect::OssecPcre2, r"^Failed (?:password|publickey) for"),
        (Dialect::Exact, "allow"),
    ];
    let texts = [
        "Failed password for root from 10.0.0.1 port 22 ssh2",
        "pam_unix(sshd:auth): authentication failure; user=bob rhost=10.1.1.1",
        "bob : HOST=box : x",
        "",
    ];
    let compiled: Vec<Pattern> = patterns
        .iter()
        .map(|(d, p)| Pattern::compile(*d, p).expect("valid pattern"))
        .collect();
    // Warm up: the regex engines fill their per-thread scratch space on first use.
    for p in &compiled {
        for t in texts {
            p.is_match(t);
        }
    }
    COUNTING.with(|c| c.set(true));
    let mut matches = 0;
    for _ in 0..100 {
        for p in &compiled {
            for t in texts {
                matches += usize::from(p.is_match(t));
            }
        }
    }
    COUNTING.with(|c| c.set(false));
    let allocated = ALLOCATIONS.with(Cell::get);
    assert!(matches > 0);
    assert_eq!(allocated, 0, "is_match allocated {allocated} times");
}
