import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';

// Startup and the hot path stay unchanged without an otlp sink: the OpenTelemetry packages are
// imported by one module, which only a dynamic import() reaches, from the sinks' opener.

const src = fileURLToPath(new URL('../../src/', import.meta.url));
const files = (dir: string): string[] => readdirSync(dir, { withFileTypes: true }).flatMap((e) => (e.isDirectory() ? files(join(dir, e.name)) : e.name.endsWith('.ts') ? [join(dir, e.name)] : []));

it('loads the OpenTelemetry packages only from audit/otlp-sink.ts, and that module only on demand', () => {
  const texts = files(src).map((f) => ({ file: relative(src, f), text: readFileSync(f, 'utf8') }));
  const users = texts.filter((t) => /['"]@opentelemetry\//.test(t.text)).map((t) => t.file);
  assert.ok(users.every((f) => f === 'audit/otlp-sink.ts'), `imports of @opentelemetry outside the otlp sink: ${users.join(', ')}`);
  const otlp = texts.find((t) => t.file === 'audit/otlp-sink.ts')!;
  // Its OpenTelemetry imports that run code are dynamic; static ones are type-only (erased).
  for (const line of otlp.text.split('\n').filter((l) => /^import .*@opentelemetry/.test(l))) assert.match(line, /^import type /, line);
  const importers = texts.filter((t) => /otlp-sink\.js['"]/.test(t.text));
  assert.deepEqual(importers.map((t) => t.file), ['audit/sinks.ts']);
  for (const line of importers[0]!.text.split('\n').filter((l) => /otlp-sink\.js['"]/.test(l))) assert.match(line, /await import\(/, `a static import of the otlp sink: ${line}`);
});
