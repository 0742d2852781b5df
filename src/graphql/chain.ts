// The tenant's hash chain: signed checkpoints, and verification of the chain or a range of it.

import type { ChainReport } from '../audit/chain-service.ts';
import { VERIFY_LIMIT } from '../audit/chain-service.ts';
import { ValidationError } from '../audit/errors.ts';
import type { StoredStatement } from '../audit/repository.ts';
import { builder } from './builder.ts';

const StatementKind = builder.enumType('ChainStatementKind', {
  description: 'What a signed statement is.',
  values: {
    CHECKPOINT: { value: 'checkpoint', description: "A periodic signature over the tenant's chain head." },
    ANCHOR: {
      value: 'anchor',
      description: 'Left by a prune: the hash of the last removed event, where the chain now starts.',
    },
  } as const,
});

const CheckpointRef = builder.objectRef<StoredStatement>('ChainCheckpoint').implement({
  description:
    'A statement "tenant T\'s chain had hash H at sequence S at time X", signed with the gateway\'s Ed25519 key ' +
    '(public key at /.well-known/audit-signing-key.pem). Keep copies outside this system: with one, truncation or a ' +
    'rewrite of the history before it is detected.',
  fields: (t) => ({
    kind: t.field({
      type: StatementKind,
      description: 'Checkpoint or prune anchor.',
      resolve: (c) => c.kind as 'checkpoint' | 'anchor',
    }),
    sequence: t.expose('seq', { type: 'SafeInt', description: 'The sequence number the statement covers.' }),
    hash: t.exposeString('hash', { description: "The chain's hash at that sequence (hex)." }),
    signedAt: t.expose('signedAt', { type: 'DateTime', description: 'When it was signed.' }),
    keyId: t.exposeString('keyId', {
      description: 'Id of the signing key (first 16 hex digits of the SHA-256 of its SPKI).',
    }),
    statement: t.exposeString('statement', { description: 'The exact signed text (canonical JSON).' }),
    signature: t.exposeString('signature', { description: 'Ed25519 signature of `statement`, base64.' }),
  }),
});

const BreakKind = builder.enumType('ChainBreakKind', {
  description: 'How the chain is broken at the reported sequence number.',
  values: {
    MODIFIED: {
      value: 'modified',
      description: 'A stored event (or its hash) differs from what was hashed, or history was rewritten.',
    },
    MISSING: {
      value: 'missing',
      description: 'An event that was stored is gone (deleted, or the tail truncated).',
    },
    INSERTED: {
      value: 'inserted',
      description: 'An event that was never recorded by the gateway appears in the chain.',
    },
    REORDERED: {
      value: 'reordered',
      description: 'Events are stored under sequence numbers other than their own.',
    },
  } as const,
});

const ChainBreakRef = builder.objectRef<NonNullable<ChainReport['break']>>('ChainBreak').implement({
  description: 'The first place where the chain does not verify.',
  fields: (t) => ({
    sequence: t.expose('sequence', {
      type: 'SafeInt',
      description: 'The first sequence number that does not verify.',
    }),
    kind: t.field({ type: BreakKind, description: 'What is wrong there.', resolve: (b) => b.kind }),
    detail: t.exposeString('detail', { description: 'A sentence for a person.' }),
  }),
});

const VerificationRef = builder.objectRef<ChainReport>('ChainVerification').implement({
  description: 'The result of verifying your hash chain.',
  fields: (t) => ({
    intact: t.exposeBoolean('intact', {
      description: 'True when every checked event verifies and matches the head and checkpoints.',
    }),
    fromSequence: t.expose('from', {
      type: 'SafeInt',
      nullable: true,
      description: 'First sequence number checked; null when none.',
    }),
    toSequence: t.expose('to', {
      type: 'SafeInt',
      nullable: true,
      description: 'Last sequence number checked; null when none.',
    }),
    eventsChecked: t.expose('eventsChecked', {
      type: 'SafeInt',
      description: 'How many events were checked.',
    }),
    checkpointsChecked: t.exposeInt('checkpointsChecked', {
      description: 'How many signed checkpoints the chain was matched against.',
    }),
    headSequence: t.expose('headSequence', {
      type: 'SafeInt',
      description: 'The newest sequence number the stored chain head records.',
    }),
    signedThrough: t.expose('signedThrough', {
      type: 'SafeInt',
      nullable: true,
      description:
        'Newest sequence number vouched for by a signed checkpoint; later events are covered by the head only.',
    }),
    break: t.field({
      type: ChainBreakRef,
      nullable: true,
      description: 'Where and how the chain breaks; null when intact.',
      resolve: (r) => r.break,
    }),
  }),
});

const SignedCheckpointInput = builder.inputType('SignedCheckpointInput', {
  description:
    'A checkpoint you kept outside the gateway (from `checkpoints` or `audit-gateway checkpoint`).',
  fields: (t) => ({
    statement: t.string({ required: true, description: 'The exact signed text.' }),
    signature: t.string({ required: true, description: 'Its base64 signature.' }),
  }),
});

builder.queryFields((t) => ({
  checkpoints: t.field({
    type: [CheckpointRef],
    description: 'Signed checkpoints and prune anchors of your chain, oldest first.',
    args: {
      afterSequence: t.arg({ type: 'SafeInt', description: 'Only statements about later sequence numbers.' }),
      first: t.arg.int({ defaultValue: 100, description: 'At most this many (default 100, maximum 1000).' }),
    },
    resolve: (_root, args, ctx) => {
      const first = args.first ?? 100;
      if (first < 0 || first > 1000) throw new ValidationError('first', 'must be between 0 and 1000');
      return ctx.audit.listCheckpoints(ctx.viewer, args.afterSequence ?? undefined, first);
    },
  }),
  verifyChain: t.field({
    type: VerificationRef,
    description:
      'Recomputes your hash chain from the stored events and checks it against the stored head, every signed ' +
      `checkpoint, and the checkpoint you pass. At most ${VERIFY_LIMIT} events per request: give a range for longer ` +
      'chains (a range starts from the stored hash of the event before it).',
    args: {
      fromSequence: t.arg({
        type: 'SafeInt',
        description: 'First sequence number to check (default: the start of the chain).',
      }),
      toSequence: t.arg({
        type: 'SafeInt',
        description: 'Last sequence number to check (default: the head; the head is then checked too).',
      }),
      checkpoint: t.arg({
        type: SignedCheckpointInput,
        description: 'A checkpoint held outside the database to check against.',
      }),
    },
    resolve: (_root, args, ctx) => {
      return ctx.chain.verify(ctx.viewer, {
        fromSeq: args.fromSequence ?? undefined,
        toSeq: args.toSequence ?? undefined,
        checkpoint: args.checkpoint ?? undefined,
        limit: VERIFY_LIMIT,
      });
    },
  }),
}));
