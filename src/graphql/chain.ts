// The tenant's hash chain: signed checkpoints, and verification of the chain or a range of it.

import type { ChainReport, ServedStatement } from '../audit/chain-service.ts';
import { VERIFY_LIMIT } from '../audit/chain-service.ts';
import { ValidationError } from '../errors.ts';
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

const CheckpointRef = builder.objectRef<ServedStatement>('ChainCheckpoint').implement({
  description:
    'A statement "tenant T\'s chain had hash H at sequence S at time X", signed with the gateway\'s Ed25519 key ' +
    '(public keys, current and retired, at /.well-known/audit-signing-keys.json and /.well-known/audit-signing-key.pem). ' +
    'Keep copies outside this system: with one, truncation or a rewrite of the history before it is detected. ' +
    'Kind, sequence, hash, signing time and key id are read from the signed `statement` itself; `problem` says when ' +
    'the stored row disagrees with it or its signature does not verify.',
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
    problem: t.exposeString('problem', {
      nullable: true,
      description:
        'Null when the signature verifies with the key it names and the stored row agrees with the statement; ' +
        'otherwise why not (signature fails, signed by an unknown key, a stored column differs from the signed text).',
    }),
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

const VerificationStatus = builder.enumType('ChainVerificationStatus', {
  description: 'The verdict of a verification, for scripts.',
  values: {
    INTACT: {
      value: 'intact',
      description:
        'Every checked event verifies, and a signed checkpoint covers them (through `signedThrough`).',
    },
    UNSIGNED: {
      value: 'unsigned',
      description:
        'Every checked event verifies, but no signed checkpoint covers any of them: only the unsigned head vouches for them.',
    },
    UNKNOWN_KEY: {
      value: 'unknown-key',
      description:
        'The events verify, but some stored statements are signed by a key this gateway does not hold (see `unknownKeyIds`): ' +
        'they could not be checked. Add the retired public key to SIGNING_KEY_PREVIOUS.',
    },
    BROKEN: { value: 'broken', description: 'The chain does not verify; `break` says where and how.' },
  } as const,
});

const VerificationRef = builder.objectRef<ChainReport>('ChainVerification').implement({
  description: 'The result of verifying your hash chain.',
  fields: (t) => ({
    intact: t.exposeBoolean('intact', {
      description:
        'True when every checked event verifies and matches the head and checkpoints (status INTACT or UNSIGNED).',
    }),
    status: t.field({
      type: VerificationStatus,
      description:
        'The verdict: INTACT, UNSIGNED (intact but covered by no signature), UNKNOWN_KEY or BROKEN.',
      resolve: (r) => r.status,
    }),
    unknownKeyIds: t.exposeStringList('unknownKeyIds', {
      description: 'Ids of keys that signed stored statements but that this gateway does not hold.',
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
        'Newest checked sequence number vouched for by a signed checkpoint inside the checked range; later events ' +
        'are covered by the head only. Null when no checkpoint in the range matched.',
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
      return ctx.chain
        .listCheckpoints(ctx.viewer, args.afterSequence ?? undefined, first)
        .then((rows) => ctx.chain.describeStatements(ctx.viewer.tenantId, rows));
    },
  }),
  verifyChain: t.field({
    type: VerificationRef,
    description:
      'Recomputes your hash chain from the stored events and checks it against the stored head, every signed ' +
      `checkpoint, and the checkpoint you pass. At most ${VERIFY_LIMIT} events per request: give a range for longer ` +
      'chains (a range starts from the stored hash of the event before it, and must reach its end). Identical ' +
      "verifications asked while one runs share its result, and one tenant's verifications run one at a time.",
    args: {
      fromSequence: t.arg({
        type: 'SafeInt',
        description: 'First sequence number to check (default: the start of the chain).',
      }),
      toSequence: t.arg({
        type: 'SafeInt',
        description:
          'Last sequence number to check (default: the head). A range that reaches the head is checked against it; ' +
          'a shorter one must contain every event through this number.',
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
