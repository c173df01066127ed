import { bodyDigest } from './digest.js';

/**
 * A body larger than this takes turns of the event loop between its CPU-bound steps (the copy
 * that joins its chunks, the digest and text decoding, the scan and parse): each of them costs a
 * few ms per MiB, and in one stretch they held the loop for over 10 ms, so every other request
 * (and `/healthz`) waited. Smaller bodies, nearly all of them, go through in one turn.
 */
export const LARGE_BODY_BYTES = 65_536; // 64 KiB

function breather(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

/**
 * A read body's digest (`sha256:` + base64url) and, with `decode`, its UTF-8 text for the JSON
 * parse that follows. For a large body, each step (and the parse after it) runs in its own turn
 * of the event loop; a small one costs no extra turn. Used by both doors.
 */
export async function digestAndDecode(body: Buffer, decode: boolean): Promise<{ digest: string; text: string | undefined }> {
  if (body.length <= LARGE_BODY_BYTES) return { digest: bodyDigest(body), text: decode ? body.toString('utf8') : undefined };
  await breather(); // after the join
  const digest = bodyDigest(body);
  const text = decode ? body.toString('utf8') : undefined;
  await breather(); // before the parse
  return { digest, text };
}
