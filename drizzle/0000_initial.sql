CREATE TABLE "api_keys" (
	"id" text PRIMARY KEY NOT NULL,
	"tenant_id" integer NOT NULL,
	"name" text,
	"scopes" text[] NOT NULL,
	"secret_hash" "bytea" NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"revoked_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "audit_catalog" (
	"tenant_id" integer NOT NULL,
	"target_kind" text NOT NULL,
	"action" text NOT NULL,
	"actor_type" text NOT NULL,
	CONSTRAINT "audit_catalog_tenant_id_target_kind_action_actor_type_pk" PRIMARY KEY("tenant_id","target_kind","action","actor_type")
);
--> statement-breakpoint
CREATE TABLE "audit_events" (
	"tenant_id" integer NOT NULL,
	"seq" bigint NOT NULL,
	"id" uuid NOT NULL,
	"action" text NOT NULL,
	"name" text,
	"title" text,
	"description" text,
	"actor_id" text,
	"actor_email" text,
	"actor_name" text,
	"actor_type" text,
	"actor_company" text,
	"group_id" text,
	"target_kind" text,
	"target_id" text,
	"target_name" text,
	"target_email" text,
	"target_company" text,
	"additional_id" text,
	"feature_name" text,
	"feature_metas" jsonb,
	"ip_address" text,
	"occurred_at" timestamp (3) with time zone NOT NULL,
	"sent_at" timestamp (3) with time zone,
	"received_at" timestamp (3) with time zone NOT NULL,
	"metadata" jsonb NOT NULL,
	"idempotency_key" text,
	"request_hash" "bytea",
	"canonical" text NOT NULL,
	"hash" "bytea" NOT NULL,
	CONSTRAINT "audit_events_pkey" PRIMARY KEY("id"),
	CONSTRAINT "audit_events_seq_positive" CHECK ("audit_events"."seq" > 0),
	CONSTRAINT "audit_events_hash_length" CHECK (length("audit_events"."hash") = 32)
);
--> statement-breakpoint
CREATE TABLE "chain_checkpoints" (
	"tenant_id" integer NOT NULL,
	"kind" text NOT NULL,
	"seq" bigint NOT NULL,
	"hash" "bytea" NOT NULL,
	"signed_at" timestamp (3) with time zone NOT NULL,
	"key_id" text NOT NULL,
	"statement" text NOT NULL,
	"signature" "bytea" NOT NULL,
	CONSTRAINT "chain_checkpoints_tenant_id_kind_seq_pk" PRIMARY KEY("tenant_id","kind","seq"),
	CONSTRAINT "chain_checkpoints_kind" CHECK ("chain_checkpoints"."kind" in ('checkpoint', 'anchor'))
);
--> statement-breakpoint
CREATE TABLE "chain_heads" (
	"tenant_id" integer PRIMARY KEY NOT NULL,
	"seq" bigint NOT NULL,
	"hash" "bytea" NOT NULL,
	"checkpoint_seq" bigint DEFAULT 0 NOT NULL,
	"checkpoint_at" timestamp (3) with time zone
);
--> statement-breakpoint
CREATE TABLE "tenants" (
	"id" integer PRIMARY KEY GENERATED ALWAYS AS IDENTITY (sequence name "tenants_id_seq" INCREMENT BY 1 MINVALUE 1 MAXVALUE 2147483647 START WITH 1 CACHE 1),
	"slug" text NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenants_slug_format" CHECK ("tenants"."slug" ~ '^[a-z0-9][a-z0-9-]{0,62}$')
);
--> statement-breakpoint
ALTER TABLE "api_keys" ADD CONSTRAINT "api_keys_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_catalog" ADD CONSTRAINT "audit_catalog_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "audit_events" ADD CONSTRAINT "audit_events_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chain_checkpoints" ADD CONSTRAINT "chain_checkpoints_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "chain_heads" ADD CONSTRAINT "chain_heads_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "api_keys_tenant_idx" ON "api_keys" USING btree ("tenant_id");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_tenant_seq_key" ON "audit_events" USING btree ("tenant_id","seq");--> statement-breakpoint
CREATE UNIQUE INDEX "audit_events_idempotency_key" ON "audit_events" USING btree ("tenant_id","idempotency_key") WHERE "audit_events"."idempotency_key" is not null;--> statement-breakpoint
CREATE INDEX "audit_events_time_idx" ON "audit_events" USING btree ("tenant_id","occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_action_idx" ON "audit_events" USING btree ("tenant_id","action","occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_actor_idx" ON "audit_events" USING btree ("tenant_id",coalesce("actor_id", ''),"occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_target_kind_idx" ON "audit_events" USING btree ("tenant_id",coalesce("target_kind", ''),"occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_group_idx" ON "audit_events" USING btree ("tenant_id",coalesce("group_id", ''),"occurred_at","id");--> statement-breakpoint
CREATE INDEX "audit_events_actor_email_idx" ON "audit_events" USING btree ("tenant_id","actor_email","occurred_at") WHERE "audit_events"."actor_email" is not null;--> statement-breakpoint
CREATE INDEX "audit_events_target_id_idx" ON "audit_events" USING btree ("tenant_id","target_id","occurred_at") WHERE "audit_events"."target_id" is not null;--> statement-breakpoint
CREATE INDEX "audit_events_ip_idx" ON "audit_events" USING btree ("tenant_id","ip_address","occurred_at") WHERE "audit_events"."ip_address" is not null;--> statement-breakpoint
CREATE UNIQUE INDEX "tenants_slug_key" ON "tenants" USING btree ("slug");