// nginx as a plain reverse proxy: the floor any proxy's cost is compared with (target (n) of
// `npm run bench`). Debian's package; the bench installs it when it is missing and it can
// (root, apt-get), and otherwise the target is skipped with a line saying why.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { connect } from 'node:net';
import { join } from 'node:path';

const NGINX = '/usr/sbin/nginx';

/** nginx, installed with apt-get if it is missing and this process may; why not otherwise. */
export function ensureNginx(): { ok: true } | { ok: false; why: string } {
  if (existsSync(NGINX)) return { ok: true };
  if (process.getuid?.() !== 0) return { ok: false, why: `${NGINX} is missing (apt-get install nginx as root)` };
  const apt = spawnSync('apt-get', ['install', '-y', '-qq', 'nginx'], { stdio: 'ignore', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
  return existsSync(NGINX) ? { ok: true } : { ok: false, why: `apt-get install nginx failed (exit ${apt.status ?? 'none'})` };
}

/**
 * One nginx process (no master: its pid is the one that does the work, for CPU per request)
 * proxying every path to `upstream` over kept-alive HTTP/1.1 connections, without access logs.
 */
export async function startNginx(upstream: URL, port: number, dir: string): Promise<ChildProcess> {
  await mkdir(join(dir, 'temp'), { recursive: true });
  const temp = (name: string) => `${name}_temp_path ${join(dir, 'temp', name)};`;
  const conf = `worker_processes 1;
daemon off;
master_process off;
pid ${join(dir, 'nginx.pid')};
error_log ${join(dir, 'error.log')} warn;
events { worker_connections 1024; }
http {
  access_log off;
  ${temp('client_body')} ${temp('proxy')} ${temp('fastcgi')} ${temp('uwsgi')} ${temp('scgi')}
  upstream up { server ${upstream.host}; keepalive 64; }
  server {
    listen 127.0.0.1:${port};
    location / { proxy_pass http://up; proxy_http_version 1.1; proxy_set_header Connection ""; }
  }
}
`;
  const file = join(dir, 'nginx.conf');
  await writeFile(file, conf);
  const child = spawn(NGINX, ['-c', file, '-p', dir], { stdio: ['ignore', 'ignore', 'inherit'] });
  const deadline = Date.now() + 5_000;
  for (;;) {
    if (await accepts(port)) return child;
    if (child.exitCode !== null || Date.now() > deadline) throw new Error(`nginx did not start on port ${port} (see ${join(dir, 'error.log')})`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function accepts(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(true)));
    socket.once('error', () => resolve(false));
  });
}
