CREATE TABLE "log_stream_leases" (
	"tenant_id" integer NOT NULL,
	"stream_id" uuid NOT NULL,
	"next_attempt_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	"holder" text,
	"lease_expires_at" timestamp (3) with time zone,
	CONSTRAINT "log_stream_leases_pkey" PRIMARY KEY("tenant_id","stream_id")
);
--> statement-breakpoint
CREATE TABLE "log_streams" (
	"tenant_id" integer NOT NULL,
	"id" uuid NOT NULL,
	"name" text NOT NULL,
	"kind" text NOT NULL,
	"config" jsonb NOT NULL,
	"secret" text,
	"actions" text[],
	"position" bigint DEFAULT 0 NOT NULL,
	"last_delivered_seq" bigint,
	"last_delivered_at" timestamp (3) with time zone,
	"last_error" text,
	"last_error_at" timestamp (3) with time zone,
	"failures" integer DEFAULT 0 NOT NULL,
	"paused" boolean DEFAULT false NOT NULL,
	"created_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "log_streams_pkey" PRIMARY KEY("tenant_id","id"),
	CONSTRAINT "log_streams_kind" CHECK ("log_streams"."kind" in ('webhook', 'nats')),
	CONSTRAINT "log_streams_position" CHECK ("log_streams"."position" >= 0)
);
--> statement-breakpoint
ALTER TABLE "log_stream_leases" ADD CONSTRAINT "log_stream_leases_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
ALTER TABLE "log_streams" ADD CONSTRAINT "log_streams_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;--> statement-breakpoint
CREATE INDEX "log_stream_leases_due_idx" ON "log_stream_leases" USING btree ("next_attempt_at");--> statement-breakpoint

-- The serving role manages log streams through the API (create, pause, delete) and advances their
-- positions; the worker takes and renews leases.
GRANT SELECT, INSERT, UPDATE, DELETE ON "log_streams", "log_stream_leases" TO audit_gateway;
--> statement-breakpoint

-- A stream's destination, filter and secret are the tenant's: row-level security as on the events.
-- The lease table holds ids and times only, and the worker must see every tenant's due streams.
ALTER TABLE "log_streams" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "log_streams" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "log_streams"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
