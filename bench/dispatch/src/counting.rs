//! A global allocator that counts allocations: a figure of the dispatcher's work per
//! delivery that this shared machine's noise does not move, unlike its CPU time.
//!
//! Each thread counts in a thread-local cell and adds to the process's total every
//! [`FLUSH`] allocations, so that counting costs no shared cache line per allocation;
//! a reading is short by at most `FLUSH` per thread.

use std::alloc::{GlobalAlloc, Layout};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// `A`, counting every allocation and reallocation made through it.
pub struct Counting<A>(pub A);

const FLUSH: u64 = 256;

static TOTAL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static LOCAL: Cell<u64> = const { Cell::new(0) };
}

fn count() {
    let counted = LOCAL.try_with(|local| {
        let n = local.get() + 1;
        if n == FLUSH {
            TOTAL.fetch_add(n, Ordering::Relaxed);
            local.set(0);
        } else {
            local.set(n);
        }
    });
    if counted.is_err() {
        // The thread's locals are gone (it is exiting): count straight into the total.
        TOTAL.fetch_add(1, Ordering::Relaxed);
    }
}

/// Allocations counted so far, all threads.
pub fn allocations() -> u64 {
    TOTAL.load(Ordering::Relaxed)
}

// SAFETY: every call is passed unchanged to `A`, which upholds `GlobalAlloc`'s contract.
unsafe impl<A: GlobalAlloc> GlobalAlloc for Counting<A> {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: the caller's guarantees, passed on.
        unsafe { self.0.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { self.0.alloc_zeroed(layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        count();
        // SAFETY: as above.
        unsafe { self.0.realloc(ptr, layout, new_size) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: as above.
        unsafe { self.0.dealloc(ptr, layout) }
    }
}
