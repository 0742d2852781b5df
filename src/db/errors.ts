// Which driver errors mean "the database went away" (retry later) rather than "this query is
// wrong": postgres.js and PGlite report both kinds the same way, so the codes decide.
import { DatabaseUnavailableError } from '../errors.ts';

/** Error codes of postgres and PGlite that mean "the server went away", not "your query is wrong". */
const unavailableSqlStates = new Set([
  '57P01', // admin_shutdown
  '57P02', // crash_shutdown
  '57P03', // cannot_connect_now
  '08000',
  '08003',
  '08006',
  '08001',
  '08004',
  '53300', // too_many_connections
]);
const unavailableNodeCodes = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
  'CONNECT_TIMEOUT',
  'CONNECTION_CONNECT_TIMEOUT',
]);

/** The codes of a driver error and its causes (Drizzle wraps driver errors), outermost first. */
function errorCodes(error: unknown): string[] {
  const codes: string[] = [];
  let e: unknown = error;
  for (let i = 0; i < 5 && e && typeof e === 'object'; i++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === 'string') codes.push(code);
    e = (e as { cause?: unknown }).cause;
  }
  return codes;
}

/** Maps a driver error that means "database down" to DatabaseUnavailableError; others pass through. */
export function classifyDatabaseError(error: unknown): unknown {
  const down = errorCodes(error).some(
    (code) => unavailableSqlStates.has(code) || unavailableNodeCodes.has(code),
  );
  return down ? new DatabaseUnavailableError() : error;
}

/** The statement was cancelled (57014 query_canceled), e.g. by its statement_timeout. */
export function isQueryCanceled(error: unknown): boolean {
  return errorCodes(error).includes('57014');
}

/** A lock was not had within lock_timeout (55P03 lock_not_available). */
export function isLockNotAvailable(error: unknown): boolean {
  return errorCodes(error).includes('55P03');
}

/** `p`, or DatabaseUnavailableError if it has not settled within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new DatabaseUnavailableError('database did not answer in time')),
      ms,
    );
    p.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
