/**
 * A client-chosen string as it may appear in an audit record or a message: at most `max`
 * characters, printable ASCII, anything else as `?`.
 *
 * This does NOT make the string safe for HTML or a shell; it only keeps records one line of
 * bounded, visible text.
 */
export function printable(value: string, max: number): string {
  return value.slice(0, max).replace(/[^\x20-\x7e]/g, '?');
}
