/** What a CLI command may touch, injected so commands run in-process in tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  exit(code: number): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIo(): CliIo {
  endQuietlyWhenClosed(process.stdout, (code) => process.exit(code));
  return {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    exit: (code) => {
      process.exitCode = code;
    },
    env: process.env,
    cwd: process.cwd(),
  };
}

/**
 * When the reader of `stream` goes away (`behalf audit query | head -1`), stop at once with exit 0
 * and no message, as git and coreutils do: the reader asked for no more. Without this, Node
 * reports the EPIPE as an unhandled error, with a stack trace and exit 1.
 *
 * This does NOT hide other write errors (a full disk behind a redirect): they are re-thrown.
 */
export function endQuietlyWhenClosed(stream: NodeJS.WritableStream, exit: (code: number) => void): void {
  stream.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') exit(0);
    else throw err;
  });
}
