// Log streams to the real NATS JetStream server on 127.0.0.1:4222. Each test makes its own stream
// (a unique name and subject prefix) and deletes it afterwards.
import { randomBytes } from 'node:crypto';
import { type JetStreamManager, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { operatorViewer } from '../src/audit/viewer.ts';
import type { Gateway } from '../src/gateway.ts';
import { NatsSink, natsSubject, subjectToken } from '../src/streams/nats.ts';
import type { StreamedEvent } from '../src/streams/sink.ts';
import { graphql } from './gql/index.ts';
import { gql, newTenant, type SharedDatabase, sharedDatabase } from './support/log-stream-gateways.ts';
import { deliveredInOrder, eventually } from './support/log-stream-receiver.ts';

const NATS_URL = '127.0.0.1:4222';

const CreateNatsStream = graphql(`
  mutation CreateNatsLogStream($input: CreateLogStreamInput!) {
    createLogStream(input: $input) {
      secret
      stream { id kind nats { servers stream subjectPrefix createStream } }
    }
  }
`);

const NatsStreamStatus = graphql(`
  query NatsLogStreamStatus {
    logStreams { id position lastDeliveredSeq lag failing lastError nextRetryAt }
  }
`);

let shared: SharedDatabase;
let gateway: Gateway;
let nc: NatsConnection;
let jsm: JetStreamManager;
const streamsToDelete: string[] = [];

beforeAll(async () => {
  nc = await connect({ servers: NATS_URL });
  jsm = await jetstreamManager(nc);
  shared = await sharedDatabase();
  gateway = await shared.open();
});

afterAll(async () => {
  await gateway?.close();
  await shared?.drop();
  for (const name of streamsToDelete) await jsm.streams.delete(name).catch(() => {});
  await nc?.close();
});

function uniqueStream() {
  const suffix = randomBytes(6).toString('hex');
  const name = `AGW_TEST_${suffix}`;
  streamsToDelete.push(name);
  return { name, prefix: `agwtest.${suffix}` };
}

async function storedMessages(stream: string) {
  const count = (await jsm.streams.info(stream)).state.messages;
  const messages = [];
  for (let seq = 1; seq <= count; seq++) {
    const m = await jsm.streams.getMessage(stream, { seq });
    if (m)
      messages.push({
        subject: m.subject,
        msgId: m.header.get('Nats-Msg-Id'),
        event: m.json<StreamedEvent>(),
      });
  }
  return messages;
}

const actions = ['user.login', 'export report', 'key*>rotate'];

async function record(tenant: { id: number; slug: string }, count: number) {
  const results = await gateway.audit.recordEvents(
    operatorViewer(tenant),
    Array.from({ length: count }, (_, i) => ({ action: actions[i % actions.length], metadata: { i } })),
  );
  expect(results.every((r) => r.ok)).toBe(true);
}

async function status(tenant: { readKey: string }) {
  const res = await gql(gateway, NatsStreamStatus, {}, tenant.readKey);
  expect(res.errors).toBeUndefined();
  return res.data?.logStreams[0];
}

describe('log streams: NATS JetStream', () => {
  it('publishes every event in order to <prefix>.<tenant>.<action>, with Nats-Msg-Id = event id', async () => {
    const { name, prefix } = uniqueStream();
    await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
    const tenant = await newTenant(gateway);
    await record(tenant, 20);
    const res = await gql(
      gateway,
      CreateNatsStream,
      {
        input: {
          name: 'bus',
          nats: { servers: [NATS_URL], stream: name, subjectPrefix: prefix },
          startFrom: 'BEGINNING',
        },
      },
      tenant.key,
    );
    expect(res.errors).toBeUndefined();
    expect(res.data?.createLogStream.secret).toBeNull();
    await record(tenant, 10);
    await eventually(async () => (await status(tenant))?.position === 30);

    const messages = await storedMessages(name);
    expect(messages).toHaveLength(30);
    expect(
      deliveredInOrder(
        messages.map((m) => m.event),
        30,
      ),
    ).toBe(true);
    expect(messages.map((m) => m.event.sequence)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    for (const m of messages) {
      expect(m.msgId).toBe(m.event.id);
      expect(m.subject).toBe(`${prefix}.${tenant.slug}.${subjectToken(m.event.action)}`);
      expect(m.event.tenant).toBe(tenant.slug);
    }
    expect(new Set(messages.map((m) => m.subject.split('.').at(-1)))).toEqual(
      new Set(['user_login', 'export_report', 'key__rotate']),
    );
  });

  it('a batch published again is deduplicated by JetStream: the stream holds each event once', async () => {
    const { name, prefix } = uniqueStream();
    await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
    const tenant = await newTenant(gateway);
    await record(tenant, 12);
    const events = (
      await gateway.audit.listEvents(
        operatorViewer(tenant),
        {},
        { field: 'occurredAt', direction: 'asc' },
        { first: 12 },
      )
    ).edges.map((e) => e.node);
    const sink = new NatsSink({
      servers: [NATS_URL],
      stream: name,
      subjectPrefix: prefix,
      createStream: false,
    });
    const { toStreamedEvent } = await import('../src/streams/sink.ts');
    const batch = {
      tenant: tenant.slug,
      destination: 'test',
      events: events.sort((a, b) => a.sequence - b.sequence).map((e) => toStreamedEvent(e, tenant.slug)),
    };
    await sink.deliver(batch, new AbortController().signal);
    await sink.deliver(batch, new AbortController().signal);
    await sink.close();
    expect((await jsm.streams.info(name)).state.messages).toBe(12);
  });

  it('creates the stream when configured to, and reports a missing one otherwise', async () => {
    const created = uniqueStream();
    const missing = uniqueStream();
    const tenant = await newTenant(gateway);
    const other = await newTenant(gateway);
    for (const [t, s, createStream] of [
      [tenant, created, true],
      [other, missing, false],
    ] as const) {
      const res = await gql(
        gateway,
        CreateNatsStream,
        {
          input: {
            name: 'bus',
            nats: { servers: [NATS_URL], stream: s.name, subjectPrefix: s.prefix, createStream },
          },
        },
        t.key,
      );
      expect(res.errors).toBeUndefined();
    }
    await record(tenant, 5);
    await record(other, 5);
    await eventually(async () => (await status(tenant))?.position === 5);
    expect((await jsm.streams.info(created.name)).state.messages).toBe(5);

    const failing = await eventually(async () => {
      const s = await status(other);
      return s?.failing ? s : undefined;
    });
    expect(failing.lastError).toContain(`"${missing.name}" does not exist`);
    expect(failing.position).toBe(0);
    expect(failing.nextRetryAt).not.toBeNull();
  });

  it('a gateway killed mid-delivery republishes from its position, and JetStream keeps each event once', async () => {
    const { name, prefix } = uniqueStream();
    await jsm.streams.add({ name, subjects: [`${prefix}.>`] });
    const tenant = await newTenant(gateway);
    await gateway.streams.create(operatorViewer(tenant), {
      name: 'bus',
      nats: { servers: [NATS_URL], stream: name, subjectPrefix: prefix },
      startFrom: 'beginning',
    });
    await record(tenant, 600);
    await eventually(async () => (await jsm.streams.info(name)).state.messages > 0, 5);
    await gateway.streamWorker?.kill();
    await gateway.close();

    gateway = await shared.open();
    await record(tenant, 40);
    await eventually(async () => (await status(tenant))?.position === 640, 50);
    const messages = await storedMessages(name);
    expect(messages.map((m) => m.event.sequence)).toEqual(Array.from({ length: 640 }, (_, i) => i + 1));
  });

  it('maps actions to single subject tokens', () => {
    expect(natsSubject('audit', 'acme', 'user.login')).toBe('audit.acme.user_login');
    expect(subjectToken('a b\tc*>')).toBe('a_b_c__');
    expect(subjectToken('')).toBe('_');
  });
});
