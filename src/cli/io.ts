/** What a CLI command may touch, injected so commands run in-process in tests. */
export interface CliIo {
  out(line: string): void;
  err(line: string): void;
  exit(code: number): void;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly cwd: string;
}

export function processIo(): CliIo {
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
