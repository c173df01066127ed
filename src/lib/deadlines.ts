import { performance } from 'node:perf_hooks';

/** What a {@link DeadlineList} calls when an entry's time is up. */
export interface Expirable {
  expire(): void;
}

/** One entry of a {@link DeadlineList}; `cancel` it when the work ends in time. */
export class Deadline {
  /** @internal */ prev: Deadline | undefined = undefined;
  /** @internal */ next: Deadline | undefined = undefined;
  /** @internal */ live = true;

  /** @internal */
  constructor(
    /** `performance.now()` ms at which the entry expires. */
    readonly at: number,
    /** @internal */ readonly target: Expirable,
    private readonly list: DeadlineList,
  ) {}

  /** Takes the entry out of its list; nothing happens if it expired or was cancelled already. */
  cancel(): void {
    if (this.live) this.list.remove(this);
  }
}

/**
 * Deadlines that all lie the same `ms` after they are set (one route's `timeoutMs`), kept in the
 * order they were set, which is also the order they fall due, and served by ONE node timer: a
 * request costs a clock read and a list link instead of a timer object of its own.
 *
 * The timer is armed for the earliest entry's deadline. An entry cancelled before then is only
 * unlinked; when the timer fires, every entry due is expired (oldest first) and the timer is
 * armed again for the next one. An entry therefore expires no earlier than its deadline, and at
 * most about a millisecond after it (node's timers count whole milliseconds of the event loop's
 * clock), which is as exact as a timer per entry.
 *
 * The timer is unref'd: the work an entry stands for (a socket, a request) keeps the process up.
 *
 * This does NOT catch an `expire` that throws (the caller's must not), and does NOT order entries
 * of different durations: use one list per duration.
 */
export class DeadlineList {
  private head: Deadline | undefined;
  private tail: Deadline | undefined;
  private timer: NodeJS.Timeout | undefined;

  /** @param ms time from `add` to expiry, ms. @param now the clock, ms (default `performance.now`). */
  constructor(
    readonly ms: number,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Adds an entry that expires `ms` from now, calling `target.expire()` then unless cancelled first. */
  add(target: Expirable): Deadline {
    const entry = new Deadline(this.now() + this.ms, target, this);
    const tail = this.tail;
    if (tail === undefined) this.head = entry;
    else {
      tail.next = entry;
      entry.prev = tail;
    }
    this.tail = entry;
    // A timer already armed falls due no later than this entry: it re-arms when it fires.
    if (this.timer === undefined) this.arm(entry.at);
    return entry;
  }

  /** @internal Unlinks `entry` (its `cancel`). */
  remove(entry: Deadline): void {
    entry.live = false;
    const { prev, next } = entry;
    if (prev === undefined) this.head = next;
    else prev.next = next;
    if (next === undefined) this.tail = prev;
    else next.prev = prev;
    entry.prev = entry.next = undefined;
  }

  /** Entries not yet expired or cancelled (for tests). */
  get size(): number {
    let n = 0;
    for (let e = this.head; e !== undefined; e = e.next) n++;
    return n;
  }

  private arm(at: number): void {
    this.timer = setTimeout(this.fire, Math.max(1, Math.ceil(at - this.now())));
    this.timer.unref();
  }

  private readonly fire = (): void => {
    this.timer = undefined;
    const now = this.now();
    let entry = this.head;
    while (entry !== undefined && entry.at <= now) {
      this.remove(entry);
      entry.target.expire();
      entry = this.head;
    }
    if (entry !== undefined && this.timer === undefined) this.arm(entry.at);
  };
}
