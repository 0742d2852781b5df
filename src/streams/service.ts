// The rules of log streams: who may see and change a tenant's destinations, what a valid
// destination is, and what status a stream shows. Managing a stream needs both `read` (it sends
// the tenant's events out) and `write` (it changes the tenant's configuration), and the whole
// tenant: a restricted viewer would otherwise export what it cannot read. Seeing streams needs
// `read` and the whole tenant. Both need an API key: a viewer token (made for a browser) gets
// neither. Secrets are returned once, by `create`, and never again.
import { randomBytes, randomUUID } from 'node:crypto';
import { textProblem } from '../audit/model.ts';
import { MAX_FILTER_VALUES } from '../audit/service.ts';
import { requireScope, requireWholeTenant, type Viewer } from '../audit/viewer.ts';
import type { Db } from '../db/client.ts';
import { ForbiddenError, NotFoundError, ValidationError } from '../errors.ts';
import type { NatsConfig } from './nats.ts';
import type { LogStreamRow, StreamKind } from './repository.ts';
import * as repo from './repository.ts';
import type { WebhookConfig } from './webhook.ts';

export const MAX_STREAMS_PER_TENANT = 20;
export const MAX_NATS_SERVERS = 10;
const MIN_SECRET_LENGTH = 32;
const MAX_SECRET_LENGTH = 256;
const MAX_URL_LENGTH = 2048;

export type CreateLogStreamInput = {
  name: string;
  webhook?: { url: string; secret?: string | null | undefined } | null | undefined;
  nats?:
    | {
        servers: string[];
        stream: string;
        subjectPrefix?: string | null | undefined;
        createStream?: boolean | null | undefined;
      }
    | null
    | undefined;
  /** Only events with one of these actions; absent: every event. */
  actions?: string[] | null | undefined;
  /** `beginning`: the tenant's whole history; `now` (default): events committed from now on. */
  startFrom?: 'beginning' | 'now' | null | undefined;
};

export type LogStreamStatus = {
  id: string;
  name: string;
  kind: StreamKind;
  /** The destination without any secret: a webhook's URL, NATS servers, stream and prefix. */
  destination: Record<string, unknown>;
  actions: string[] | null;
  paused: boolean;
  position: number;
  lastDeliveredSeq: number | null;
  lastDeliveredAt: Date | null;
  /** Events committed but not yet through the stream's position. */
  lag: number;
  lastError: string | null;
  lastErrorAt: Date | null;
  failing: boolean;
  /** When the worker tries next; null when the stream is caught up and healthy, or paused. */
  nextRetryAt: Date | null;
  createdAt: Date;
};

export class LogStreamService {
  constructor(
    private readonly db: Db,
    /** Told when a stream is created or resumed, so delivery starts without waiting for the poll. */
    private readonly onChanged: () => void = () => {},
  ) {}

  async list(viewer: Viewer): Promise<LogStreamStatus[]> {
    requireApiKey(viewer);
    requireScope(viewer, 'read');
    requireWholeTenant(viewer, 'Log streams');
    return (await repo.listLogStreams(this.db, viewer.tenantId)).map(toStatus);
  }

  /** Creates a stream; the webhook secret (given or generated) is in the answer, and only there. */
  async create(
    viewer: Viewer,
    input: CreateLogStreamInput,
  ): Promise<{ stream: LogStreamStatus; secret: string | null }> {
    requireManage(viewer);
    const name = validText(input.name, 'input.name', 200);
    const actions = validActions(input.actions);
    const { kind, config, secret } = validDestination(input);
    const existing = await repo.listLogStreams(this.db, viewer.tenantId);
    if (existing.length >= MAX_STREAMS_PER_TENANT) {
      throw new ValidationError('input', `a tenant may have at most ${MAX_STREAMS_PER_TENANT} log streams`);
    }
    const position =
      (input.startFrom ?? 'now') === 'now'
        ? ((await repo.getChainHead(this.db, viewer.tenantId))?.seq ?? 0)
        : 0;
    const id = randomUUID();
    await repo.insertLogStream(this.db, viewer.tenantId, {
      id,
      name,
      kind,
      config,
      secret,
      actions,
      position,
    });
    this.onChanged();
    const [row] = await repo.listLogStreams(this.db, viewer.tenantId, [id]);
    if (!row) throw new NotFoundError(`Log stream ${id}`);
    return { stream: toStatus(row), secret };
  }

  async delete(viewer: Viewer, id: string): Promise<void> {
    requireManage(viewer);
    if (!isUuid(id) || !(await repo.deleteLogStream(this.db, viewer.tenantId, id))) {
      throw new NotFoundError(`Log stream ${id}`);
    }
  }

  async setPaused(viewer: Viewer, id: string, paused: boolean): Promise<LogStreamStatus> {
    requireManage(viewer);
    if (!isUuid(id) || !(await repo.setLogStreamPaused(this.db, viewer.tenantId, id, paused))) {
      throw new NotFoundError(`Log stream ${id}`);
    }
    if (!paused) this.onChanged();
    const [row] = await repo.listLogStreams(this.db, viewer.tenantId, [id]);
    if (!row) throw new NotFoundError(`Log stream ${id}`);
    return toStatus(row);
  }
}

/** Destinations are backend configuration: a viewer token, made to live in a browser, never sees them. */
function requireApiKey(viewer: Viewer) {
  if (viewer.token) throw new ForbiddenError('Log streams are for API keys, not viewer tokens');
}

function requireManage(viewer: Viewer) {
  requireApiKey(viewer);
  requireScope(viewer, 'read');
  requireScope(viewer, 'write');
  requireWholeTenant(viewer, 'A log stream');
}

function toStatus(row: LogStreamRow): LogStreamStatus {
  const failing = row.failures > 0;
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    destination: row.config,
    actions: row.actions,
    paused: row.paused,
    position: row.position,
    lastDeliveredSeq: row.lastDeliveredSeq,
    lastDeliveredAt: row.lastDeliveredAt,
    lag: Math.max(0, row.headSeq - row.position),
    lastError: row.lastError,
    lastErrorAt: row.lastErrorAt,
    failing,
    nextRetryAt: failing && !row.paused ? row.nextAttemptAt : null,
    createdAt: row.createdAt,
  };
}

const uuidPattern = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
function isUuid(value: string) {
  return uuidPattern.test(value);
}

function validText(value: string, field: string, max: number): string {
  if (value.length === 0) throw new ValidationError(field, 'must not be empty');
  if (value.length > max) throw new ValidationError(field, `must be at most ${max} characters`);
  const problem = textProblem(value, true);
  if (problem) throw new ValidationError(field, problem);
  return value;
}

function validActions(actions: string[] | null | undefined): string[] | null {
  if (actions == null) return null;
  if (actions.length === 0)
    throw new ValidationError('input.actions', 'must name at least one action, or be left out');
  if (actions.length > MAX_FILTER_VALUES) {
    throw new ValidationError('input.actions', `must hold at most ${MAX_FILTER_VALUES} actions`);
  }
  return actions.map((a, i) => validText(a, `input.actions[${i}]`, 200));
}

/** Hosts a plain-http webhook may use: only this machine (development, tests). */
const loopbackHosts = new Set(['localhost', '127.0.0.1', '[::1]']);

function validDestination(input: CreateLogStreamInput): {
  kind: StreamKind;
  config: Record<string, unknown>;
  secret: string | null;
} {
  if ((input.webhook == null) === (input.nats == null)) {
    throw new ValidationError('input', 'give exactly one destination: webhook or nats');
  }
  if (input.webhook) {
    if (input.webhook.url.length > MAX_URL_LENGTH) {
      throw new ValidationError('input.webhook.url', `must be at most ${MAX_URL_LENGTH} characters`);
    }
    let url: URL;
    try {
      url = new URL(input.webhook.url);
    } catch {
      throw new ValidationError('input.webhook.url', 'must be an absolute URL');
    }
    if (!(url.protocol === 'https:' || (url.protocol === 'http:' && loopbackHosts.has(url.hostname)))) {
      throw new ValidationError('input.webhook.url', 'must be https:// (plain http only to localhost)');
    }
    if (url.username || url.password) {
      throw new ValidationError(
        'input.webhook.url',
        'must not carry credentials; the batches are signed instead',
      );
    }
    const given = input.webhook.secret;
    if (given != null && (given.length < MIN_SECRET_LENGTH || given.length > MAX_SECRET_LENGTH)) {
      throw new ValidationError(
        'input.webhook.secret',
        `must be ${MIN_SECRET_LENGTH} to ${MAX_SECRET_LENGTH} characters`,
      );
    }
    const config: WebhookConfig = { url: url.toString() };
    return { kind: 'webhook', config, secret: given ?? `whsec_${randomBytes(32).toString('base64url')}` };
  }
  const nats = input.nats as NonNullable<CreateLogStreamInput['nats']>;
  if (nats.servers.length === 0 || nats.servers.length > MAX_NATS_SERVERS) {
    throw new ValidationError('input.nats.servers', `must list 1 to ${MAX_NATS_SERVERS} servers`);
  }
  nats.servers.forEach((server, i) => {
    if (!/^(nats|tls):\/\/[^\s/@]+(:\d+)?$|^[^\s/@:]+:\d+$/.test(server)) {
      throw new ValidationError(
        `input.nats.servers[${i}]`,
        'must be host:port or nats://host:port (no credentials)',
      );
    }
  });
  if (!/^[A-Za-z0-9_-]{1,64}$/.test(nats.stream)) {
    throw new ValidationError('input.nats.stream', 'must be 1 to 64 letters, digits, "_" or "-"');
  }
  const subjectPrefix = nats.subjectPrefix ?? 'audit';
  if (!/^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/.test(subjectPrefix) || subjectPrefix.length > 100) {
    throw new ValidationError(
      'input.nats.subjectPrefix',
      'must be dot-separated tokens of letters, digits, "_" or "-" (no wildcards), at most 100 characters',
    );
  }
  const config: NatsConfig = {
    servers: nats.servers,
    stream: nats.stream,
    subjectPrefix,
    createStream: nats.createStream ?? false,
  };
  return { kind: 'nats', config, secret: null };
}
