import type { Server } from 'node:http';
import { isIPv6 } from 'node:net';
import type { Socket } from 'node:net';
import type { Reason } from '../../pipeline/reasons.js';

/** Why a connection was closed as it was accepted. */
export type ConnectionRefusal = Extract<Reason, 'connection-limit' | 'connection-limit-per-address'>;

/** Told of every connection closed on accept: counts it and audits it (connection-refusals.ts). */
export type ConnectionRefusedHook = (reason: ConnectionRefusal, address: string | undefined) => void;

export interface ConnectionBounds {
  /** Connections the listener holds at once (`server.maxConnections`). */
  readonly maxConnections?: number;
  /** Connections from one client address at once (`server.maxConnectionsPerAddress`); 0 or absent = no bound. */
  readonly maxConnectionsPerAddress?: number;
}

const OPEN = new WeakMap<Server, () => number>();

/** Connections a guarded listener holds now (accepted and not refused); 0 for a listener without a guard. */
export function openConnections(server: Server): number {
  return OPEN.get(server)?.() ?? 0;
}

/**
 * Bounds what idle or slow clients can hold: at most `maxConnections` connections in all and
 * `maxConnectionsPerAddress` from one client address (an IPv6 client counts by its /64, which one
 * host commonly owns whole). A connection past either bound is closed as it is accepted, before a
 * byte of it is read: the client sees the connection reset or closed, not an HTTP status (there is
 * no request yet to answer). The total bound is Node's own `server.maxConnections` (the socket is
 * closed before any JavaScript object is made for it; Node tells of it with `drop`); the per-address
 * bound is counted here, one map entry per address with open connections. Each refusal goes to
 * `onRefused`.
 *
 * This does NOT see past a proxy: behind a load balancer every connection has the balancer's
 * address, so set `maxConnectionsPerAddress` above the balancer's connection pool, or 0. It
 * does NOT bound the rate of new connections (a firewall's job), nor requests on one connection.
 */
export function guardConnections(server: Server, bounds: ConnectionBounds, onRefused?: ConnectionRefusedHook): void {
  let open = 0;
  const perAddress = bounds.maxConnectionsPerAddress ?? 0;
  const byAddress = new Map<string, number>();
  if (bounds.maxConnections !== undefined) {
    server.maxConnections = bounds.maxConnections;
    server.on('drop', (data?: { remoteAddress?: string }) => onRefused?.('connection-limit', data?.remoteAddress));
  }
  server.on('connection', (socket: Socket) => {
    if (perAddress > 0) {
      const key = addressKey(socket.remoteAddress);
      const held = byAddress.get(key) ?? 0;
      if (held >= perAddress) {
        socket.destroy();
        onRefused?.('connection-limit-per-address', socket.remoteAddress);
        return;
      }
      byAddress.set(key, held + 1);
      socket.once('close', () => {
        const left = (byAddress.get(key) ?? 1) - 1;
        if (left <= 0) byAddress.delete(key);
        else byAddress.set(key, left);
      });
    }
    open += 1;
    socket.once('close', () => {
      open -= 1;
    });
  });
  OPEN.set(server, () => open);
}

/**
 * The key one client's connections count under: the IPv4 address (also when written as an
 * IPv4-mapped IPv6 address), or the first 64 bits of an IPv6 address.
 */
export function addressKey(address: string | undefined): string {
  if (address === undefined) return '';
  if (!isIPv6(address)) return address;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  if (mapped !== null) return mapped[1]!;
  const [head = '', tail] = address.toLowerCase().split('::');
  const front = head === '' ? [] : head.split(':');
  const back = tail === undefined || tail === '' ? [] : tail.split(':');
  const groups = tail === undefined ? front : [...front, ...Array<string>(8 - front.length - back.length).fill('0'), ...back];
  return `${groups
    .slice(0, 4)
    .map((g) => g.replace(/^0+(?=.)/, ''))
    .join(':')}::/64`;
}
