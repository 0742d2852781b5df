-- Rollups of event counts (issue 13 §1): per tenant, events per UTC hour and action, and per UTC
-- day and month and actor ('' for none). The append transaction keeps them exact; a count query
-- reads them where its filter, grouping and buckets line up (src/audit/repository/count-rollups.ts).
CREATE TABLE "audit_counts_day_actor" (
	"tenant_id" integer NOT NULL,
	"day" timestamp (3) with time zone NOT NULL,
	"actor_id" text COLLATE "C" NOT NULL,
	"events" bigint NOT NULL,
	CONSTRAINT "audit_counts_day_actor_pkey" PRIMARY KEY("tenant_id","day","actor_id")
);
--> statement-breakpoint
CREATE TABLE "audit_counts_hour_action" (
	"tenant_id" integer NOT NULL,
	"hour" timestamp (3) with time zone NOT NULL,
	"action" text COLLATE "C" NOT NULL,
	"events" bigint NOT NULL,
	CONSTRAINT "audit_counts_hour_action_pkey" PRIMARY KEY("tenant_id","hour","action")
);
--> statement-breakpoint
CREATE TABLE "audit_counts_month_actor" (
	"tenant_id" integer NOT NULL,
	"month" timestamp (3) with time zone NOT NULL,
	"actor_id" text COLLATE "C" NOT NULL,
	"events" bigint NOT NULL,
	CONSTRAINT "audit_counts_month_actor_pkey" PRIMARY KEY("tenant_id","month","actor_id")
);
--> statement-breakpoint

-- Backfill from the events already stored. The events' row-level security binds the owner too
-- (FORCE), so it is lifted for this transaction only: the migration runs in one transaction and
-- the table is locked until it commits, so no other session ever sees it lifted. The rollups get
-- their own row-level security after they are filled. Rows are written in key order, so that a
-- tenant's slots lie together on disk (a window reads a few pages, not one per row).
ALTER TABLE "audit_events" NO FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
INSERT INTO "audit_counts_hour_action" ("tenant_id", "hour", "action", "events")
  SELECT "tenant_id", date_trunc('hour', "occurred_at" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', "action", count(*)
    FROM "audit_events" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
--> statement-breakpoint
INSERT INTO "audit_counts_day_actor" ("tenant_id", "day", "actor_id", "events")
  SELECT "tenant_id", date_trunc('day', "occurred_at" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC', coalesce("actor_id", ''), count(*)
    FROM "audit_events" GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
--> statement-breakpoint
INSERT INTO "audit_counts_month_actor" ("tenant_id", "month", "actor_id", "events")
  SELECT "tenant_id", "month", "actor_id", sum("events")
    FROM (SELECT "tenant_id", date_trunc('month', "day" AT TIME ZONE 'UTC') AT TIME ZONE 'UTC' AS "month", "actor_id", "events"
            FROM "audit_counts_day_actor") AS "days"
   GROUP BY 1, 2, 3 ORDER BY 1, 2, 3;
--> statement-breakpoint
ALTER TABLE "audit_events" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE INDEX "audit_counts_day_actor_value_idx" ON "audit_counts_day_actor" USING btree ("tenant_id","actor_id","day");--> statement-breakpoint
CREATE INDEX "audit_counts_hour_action_value_idx" ON "audit_counts_hour_action" USING btree ("tenant_id","action","hour");--> statement-breakpoint
CREATE INDEX "audit_counts_month_actor_value_idx" ON "audit_counts_month_actor" USING btree ("tenant_id","actor_id","month");--> statement-breakpoint

-- The serving role adds to the counts as it appends (insert, or update on conflict) and reads
-- them; only the owner removes rows, when it rebuilds a range after a prune.
GRANT SELECT, INSERT, UPDATE ON "audit_counts_hour_action", "audit_counts_day_actor", "audit_counts_month_actor" TO audit_gateway;
--> statement-breakpoint
ALTER TABLE "audit_counts_hour_action" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_counts_hour_action" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_counts_hour_action"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint
ALTER TABLE "audit_counts_day_actor" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_counts_day_actor" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_counts_day_actor"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint
ALTER TABLE "audit_counts_month_actor" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_counts_month_actor" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_counts_month_actor"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint
ANALYZE "audit_counts_hour_action";
--> statement-breakpoint
ANALYZE "audit_counts_day_actor";
--> statement-breakpoint
ANALYZE "audit_counts_month_actor";
