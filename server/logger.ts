// JSON logs (pino) for the whole process; request logs carry the request id.
import { pino } from 'pino';

export type Logger = pino.Logger;

export function createLogger(level: string): Logger {
  return pino({ level, base: { service: 'kiln' }, timestamp: pino.stdTimeFunctions.isoTime });
}
