// JSON logs (pino) for the whole process; request logs carry the request id.
import { pino } from 'pino';

export type Logger = pino.Logger;

/** Writes to standard output unless given another `destination` (a test reads what was logged). */
export function createLogger(level: string, destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'kiln' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
