/**
 * A body larger than this takes turns of the event loop between its CPU-bound steps (the copy
 * that joins its chunks, the digest and text decoding, the scan and parse): each of them costs a
 * few ms per MiB, and in one stretch they held the loop for over 10 ms, so every other request
 * (and `/healthz`) waited. Smaller bodies, nearly all of them, go through in one turn.
 */
export const LARGE_BODY_BYTES = 65_536; // 64 KiB

/** Resolves on the event loop's next turn, after I/O that is ready (setImmediate). */
export function breather(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
