//! What the unit tests share: an allocation counter, the options read back
//! with our own getsockopt calls (the core's integration tests' helpers,
//! one file for both), and a full set of settings.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::time::Duration;

use crate::env::Wanted;

#[path = "../../keepalive/tests/common/mod.rs"]
mod common;

pub(crate) use common::{opt, raw};

/// Counts this thread's allocations, so that a test can prove a path
/// allocates nothing (other test threads do not disturb the count).
struct Counting;

thread_local! {
    static ALLOCATIONS: Cell<usize> = const { Cell::new(0) };
}

// SAFETY: forwards to the system allocator unchanged.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as ours.
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let _ = ALLOCATIONS.try_with(|n| n.set(n.get() + 1));
        // SAFETY: same contract as ours.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// How many allocations this thread made so far.
pub(crate) fn allocations() -> usize {
    ALLOCATIONS.with(Cell::get)
}

/// Every value set: keepalive on, 60/10/5, a 7000 ms user timeout.
pub(crate) fn full() -> Wanted {
    Wanted {
        enabled: true,
        config: keepalive::Config::from_secs(Some(60), Some(10), Some(5))
            .unwrap()
            .user_timeout(Duration::from_millis(7000)),
        enforce: crate::env::Enforce::Quiet,
    }
}

/// [`full`] as [`raw`] reads it back from a TCP socket.
pub(crate) const FULL: (i32, i32, i32, i32, i32) = (1, 60, 10, 5, 7000);
