// What the command-line tools say while they work (creating the schema of a new database, waiting
// for one that is not up), as plain lines on standard error: standard output carries only the
// answer, so that `TOKEN=$(npx kiln admin token)` captures the token and nothing else.
import { createLogger, type Logger } from '../logger.js';

export function cliLogger(level: string): Logger {
  return createLogger(level, {
    write(line: string) {
      const { msg } = JSON.parse(line) as { msg?: string };
      if (msg) process.stderr.write(`kiln: ${msg}\n`);
    },
  });
}
