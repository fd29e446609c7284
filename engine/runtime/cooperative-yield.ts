import { performance } from 'node:perf_hooks';

/**
 * Lets background work (a channel's deliveries, a group of FHIR writes) give the event loop back to network I/O once
 * it has run for a slice. Without it, promise continuations chain into one microtask drain: when a group commit
 * resolves fifty writers at once, each runs its next resource's validation and index rows before any socket is read,
 * and an MLLP sender waits that long for its ACK.
 *
 * Work that must answer a sender (ingest) never calls this; it is served between the slices.
 */
const SLICE_MS = 4;

let sliceStart = performance.now();
let nextSlice: Promise<void> | undefined;

function waitForNextSlice(): Promise<void> {
  // One shared immediate for all waiters: whoever resumes first starts the new slice for everyone.
  nextSlice ??= new Promise<void>((resolve) => setImmediate(() => {
    nextSlice = undefined;
    sliceStart = performance.now();
    resolve();
  }));
  return nextSlice;
}

/**
 * Resolves at once while the current slice lasts; otherwise after the event loop has polled for I/O. A waiter that
 * resumes in a slice already used up by the waiters before it waits again, so that a slice is about SLICE_MS however
 * many waiters there are.
 */
export async function cooperate(): Promise<void> {
  while (performance.now() - sliceStart >= SLICE_MS) await waitForNextSlice();
}
