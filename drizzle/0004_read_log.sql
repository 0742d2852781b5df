-- Who read the trail (issue 13 §4): one row per read of a tenant's events, and the tenant's switch.
ALTER TABLE "tenants" ADD COLUMN "read_log" boolean DEFAULT true NOT NULL;
--> statement-breakpoint
CREATE TABLE "audit_reads" (
	"tenant_id" integer NOT NULL,
	"at" timestamp (3) with time zone NOT NULL,
	"id" uuid NOT NULL,
	"key_id" text COLLATE "C" NOT NULL,
	"token_id" text,
	"restriction" jsonb,
	"surface" text COLLATE "C" NOT NULL,
	"operation" text NOT NULL,
	"kind" text COLLATE "C" NOT NULL,
	"filter" jsonb NOT NULL,
	"client_address" text NOT NULL,
	"request_id" text,
	"events" integer NOT NULL,
	CONSTRAINT "audit_reads_pkey" PRIMARY KEY("tenant_id","at","id")
);
--> statement-breakpoint
ALTER TABLE "audit_reads" ADD CONSTRAINT "audit_reads_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;
--> statement-breakpoint

-- The serving role appends records and reads them back; it can neither change nor remove one.
GRANT SELECT, INSERT ON "audit_reads" TO audit_gateway;
--> statement-breakpoint

-- A tenant's reads are its own: row-level security as on the events.
ALTER TABLE "audit_reads" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_reads" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_reads"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
