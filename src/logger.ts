// One pino logger for the process: JSON lines, secrets redacted.
import { type Logger, pino } from 'pino';

export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'audit-gateway' },
    redact: {
      paths: ['req.headers.authorization', 'req.headers["x-api-key"]', 'key', 'apiKey'],
      censor: '[redacted]',
    },
  });
}
