-- Retention policies and legal holds, one row per tenant that has either (docs/retention.md).
-- No grant to the serving role: only the owner (the CLI, the retention job through
-- Database.admin) reads or changes them, so no API request can lift a hold or shorten a period.
CREATE TABLE "tenant_retention" (
	"tenant_id" integer NOT NULL,
	"period" text,
	"hold_since" timestamp (3) with time zone,
	"hold_by" text,
	"hold_reason" text,
	"updated_at" timestamp (3) with time zone DEFAULT now() NOT NULL,
	CONSTRAINT "tenant_retention_pkey" PRIMARY KEY("tenant_id"),
	CONSTRAINT "tenant_retention_period_format" CHECK ("tenant_retention"."period" ~ '^(P[1-9][0-9]{0,5}[DMY]|forever)$'),
	CONSTRAINT "tenant_retention_hold_complete" CHECK (("tenant_retention"."hold_since" is null) = ("tenant_retention"."hold_by" is null) and ("tenant_retention"."hold_since" is null) = ("tenant_retention"."hold_reason" is null))
);
--> statement-breakpoint
ALTER TABLE "tenant_retention" ADD CONSTRAINT "tenant_retention_tenant_id_tenants_id_fk" FOREIGN KEY ("tenant_id") REFERENCES "public"."tenants"("id") ON DELETE no action ON UPDATE no action;