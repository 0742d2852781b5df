// The application's expected failures, as typed errors, for every layer (database client, auth,
// audit, transports). Each transport translates them once: GraphQL into an error with a stable
// extensions.code, REST into a status code with a JSON body.

export abstract class DomainError extends Error {
  abstract readonly code: string;
}

/** Input that cannot be accepted. `field` names the argument or parameter, e.g. `input.actor.email`. */
export class ValidationError extends DomainError {
  readonly code = 'BAD_USER_INPUT';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ValidationError';
  }
}

export class NotFoundError extends DomainError {
  readonly code = 'NOT_FOUND';
  constructor(what: string) {
    super(`${what} not found`);
    this.name = 'NotFoundError';
  }
}

export class UnauthenticatedError extends DomainError {
  readonly code = 'UNAUTHENTICATED';
  constructor(reason: string) {
    super(reason);
    this.name = 'UnauthenticatedError';
  }
}

export class ForbiddenError extends DomainError {
  readonly code = 'FORBIDDEN';
  constructor(reason: string) {
    super(reason);
    this.name = 'ForbiddenError';
  }
}

/** The same idempotency key arrived with a different request. */
export class ConflictError extends DomainError {
  readonly code = 'CONFLICT';
  constructor(
    readonly field: string,
    readonly reason: string,
  ) {
    super(`${field}: ${reason}`);
    this.name = 'ConflictError';
  }
}

/** Too many failed authentications from one client address; only a valid key gets through. */
export class RateLimitedError extends DomainError {
  readonly code = 'RATE_LIMITED';
  constructor(readonly retryAfterSeconds: number) {
    super(
      `Too many failed authentication attempts from this address; for ${retryAfterSeconds} s only a valid API key is accepted`,
    );
    this.name = 'RateLimitedError';
  }
}

/** The database cannot be reached; the request may be retried. */
export class DatabaseUnavailableError extends DomainError {
  readonly code = 'SERVICE_UNAVAILABLE';
  readonly retryAfterSeconds = 2;
  constructor(detail = 'the database is unavailable') {
    super(`Service temporarily unavailable: ${detail}`);
    this.name = 'DatabaseUnavailableError';
  }
}

/** Too many live streams are open for this API key or tenant. */
export class StreamLimitError extends DomainError {
  readonly code = 'STREAM_LIMIT';
  constructor(reason: string) {
    super(reason);
    this.name = 'StreamLimitError';
  }
}

/** The subscriber read more slowly than its events arrived; it resumes from `lastCursor`. */
export class SlowConsumerError extends DomainError {
  readonly code = 'SLOW_CONSUMER';
  constructor(reason: string) {
    super(reason);
    this.name = 'SlowConsumerError';
  }
}

/**
 * Why a live stream ended (`ended`: token expired, key revoked, too slow, shutdown), with the
 * cursor of the last event it delivered, so the client resumes with `after` and misses nothing.
 */
export class StreamEndedError extends DomainError {
  readonly code: string;
  constructor(
    readonly ended: DomainError,
    readonly lastCursor: string,
  ) {
    super(ended.message);
    this.code = ended.code;
    this.name = 'StreamEndedError';
  }
}

/** The gateway is shutting down; the client reconnects (to this or another instance) and resumes. */
export class ShuttingDownError extends DomainError {
  readonly code = 'SHUTTING_DOWN';
  constructor() {
    super('The gateway is shutting down; resume the stream with `after` set to the last cursor');
    this.name = 'ShuttingDownError';
  }
}
