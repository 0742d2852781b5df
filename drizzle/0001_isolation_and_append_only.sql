-- Byte-order collation on every column the gateway sorts or filters by, so ordering is the same
-- on any server locale and on the embedded database.
ALTER TABLE "audit_events"
  ALTER COLUMN "action" TYPE text COLLATE "C",
  ALTER COLUMN "actor_id" TYPE text COLLATE "C",
  ALTER COLUMN "actor_email" TYPE text COLLATE "C",
  ALTER COLUMN "group_id" TYPE text COLLATE "C",
  ALTER COLUMN "target_kind" TYPE text COLLATE "C",
  ALTER COLUMN "target_id" TYPE text COLLATE "C",
  ALTER COLUMN "ip_address" TYPE text COLLATE "C";
--> statement-breakpoint
ALTER TABLE "audit_catalog"
  ALTER COLUMN "target_kind" TYPE text COLLATE "C",
  ALTER COLUMN "action" TYPE text COLLATE "C",
  ALTER COLUMN "actor_type" TYPE text COLLATE "C";
--> statement-breakpoint

-- The role the gateway serves requests as. It is neither owner nor superuser: it can read and
-- append events but never change or remove them. Roles are cluster-wide, so another database
-- on the same server may have created it already.
DO $$
BEGIN
  IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'audit_gateway') THEN
    CREATE ROLE audit_gateway NOLOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;
  END IF;
EXCEPTION WHEN duplicate_object OR unique_violation THEN
  NULL;
END
$$;
--> statement-breakpoint
GRANT USAGE ON SCHEMA public TO audit_gateway;
--> statement-breakpoint
GRANT SELECT ON "tenants", "api_keys" TO audit_gateway;
--> statement-breakpoint
GRANT SELECT, INSERT ON "audit_events", "audit_catalog", "chain_checkpoints" TO audit_gateway;
--> statement-breakpoint
GRANT SELECT, INSERT, UPDATE ON "chain_heads" TO audit_gateway;
--> statement-breakpoint

-- Row-level security keyed on a transaction-local setting (set_config('app.tenant_id', ..., true)).
-- Forced, so it binds the table owner too. With no setting the comparison is NULL: no rows.
ALTER TABLE "audit_events" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_events" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_events"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint
ALTER TABLE "audit_catalog" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "audit_catalog" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "audit_catalog"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint
ALTER TABLE "chain_heads" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "chain_heads" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "chain_heads"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint
ALTER TABLE "chain_checkpoints" ENABLE ROW LEVEL SECURITY;
--> statement-breakpoint
ALTER TABLE "chain_checkpoints" FORCE ROW LEVEL SECURITY;
--> statement-breakpoint
CREATE POLICY "tenant_isolation" ON "chain_checkpoints"
  USING ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer)
  WITH CHECK ("tenant_id" = nullif(current_setting('app.tenant_id', true), '')::integer);
--> statement-breakpoint

-- Append-only, whoever asks: no UPDATE, no TRUNCATE, and DELETE only inside a prune, which
-- marks its own transaction. A superuser can still switch triggers off; the hash chain is what
-- catches that.
CREATE FUNCTION "audit_events_append_only"() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' AND current_setting('audit.pruning', true) = 'on' THEN
    RETURN NULL;
  END IF;
  RAISE EXCEPTION 'audit_events is append-only: % is not allowed', TG_OP
    USING ERRCODE = 'insufficient_privilege';
END
$$;
--> statement-breakpoint
CREATE TRIGGER "audit_events_no_update_delete" BEFORE UPDATE OR DELETE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"();
--> statement-breakpoint
CREATE TRIGGER "audit_events_no_truncate" BEFORE TRUNCATE ON "audit_events"
  FOR EACH STATEMENT EXECUTE FUNCTION "audit_events_append_only"();
