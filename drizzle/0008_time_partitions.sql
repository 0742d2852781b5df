-- Time partitions (issue 15, docs/scaling.md#time-partitions): on a Postgres server, audit_events
-- becomes a table partitioned by RANGE (received_at), one partition per calendar month in UTC,
-- plus a default partition that catches anything outside them, so an insert never fails for want
-- of a partition. Retention counts from received_at, so a month every tenant is past is dropped
-- whole (src/audit/repository/partitions.ts) instead of deleted row by row.
--
-- The embedded database (PGlite) stays unpartitioned: this migration leaves it as it is. The
-- functions below exist on both, and do nothing on an unpartitioned table.
--
-- Conversion: the rows are copied into the new table and the indexes built after the copy, in the
-- migration's transaction. It holds an exclusive lock on the events for its duration, so the
-- gateway does not serve while it runs (docs/scaling.md#converting-an-existing-table gives the
-- time per million events).

-- Creates the monthly partitions from the month of `from_time` through the month of `through`
-- that do not exist yet, each with the append-only triggers of its parent (a statement that names
-- a partition does not fire the parent's statement triggers). A month that already has rows in
-- the default partition is left to it (those rows are served, and pruned row by row) with a
-- warning. Returns how many partitions it created. Called by this migration, and by the gateway
-- at start and from the retention job (as the owner).
CREATE OR REPLACE FUNCTION public.audit_events_add_partitions(from_time timestamptz, through timestamptz)
  RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  month timestamptz := date_trunc('month', from_time AT TIME ZONE 'UTC') AT TIME ZONE 'UTC';
  next_month timestamptz;
  part text;
  created integer := 0;
BEGIN
  IF NOT EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = 'public.audit_events'::regclass) THEN
    RETURN 0;
  END IF;
  WHILE month <= through LOOP
    next_month := (month AT TIME ZONE 'UTC' + interval '1 month') AT TIME ZONE 'UTC';
    part := 'audit_events_' || to_char(month AT TIME ZONE 'UTC', 'YYYY_MM');
    IF to_regclass(format('public.%I', part)) IS NULL THEN
      IF EXISTS (SELECT FROM public.audit_events_default WHERE received_at >= month AND received_at < next_month) THEN
        RAISE WARNING 'audit_events: % has rows in the default partition; it stays there', part;
      ELSE
        EXECUTE format('CREATE TABLE public.%I PARTITION OF public.audit_events FOR VALUES FROM (%L) TO (%L)',
          part, month, next_month);
        EXECUTE format('CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON public.%I
          FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only()', part);
        EXECUTE format('CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON public.%I
          FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only()', part);
        created := created + 1;
      END IF;
    END IF;
    month := next_month;
  END LOOP;
  RETURN created;
END
$$;
--> statement-breakpoint

DO $$
DECLARE
  oldest timestamptz;
BEGIN
  IF version() LIKE '%PGlite%'
     OR EXISTS (SELECT FROM pg_partitioned_table WHERE partrelid = 'public.audit_events'::regclass) THEN
    RETURN;
  END IF;
  SET LOCAL maintenance_work_mem = '512MB';
  ALTER TABLE public.audit_events NO FORCE ROW LEVEL SECURITY;
  LOCK TABLE public.audit_events IN ACCESS EXCLUSIVE MODE;
  ALTER TABLE public.audit_events RENAME TO audit_events_unpartitioned;

  -- Same columns (types, collations, defaults, NOT NULL and CHECK constraints); keys and indexes
  -- come after the copy, which is faster than maintaining them row by row.
  CREATE TABLE public.audit_events (
    LIKE public.audit_events_unpartitioned INCLUDING DEFAULTS INCLUDING CONSTRAINTS INCLUDING STORAGE INCLUDING COMMENTS
  ) PARTITION BY RANGE (received_at);
  CREATE TABLE public.audit_events_default PARTITION OF public.audit_events DEFAULT;
  CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON public.audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only();
  CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON public.audit_events_default
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only();
  SELECT min(received_at) INTO oldest FROM public.audit_events_unpartitioned;
  PERFORM public.audit_events_add_partitions(coalesce(least(oldest, now()), now()), now() + interval '3 months');

  INSERT INTO public.audit_events SELECT * FROM public.audit_events_unpartitioned;
  DROP TABLE public.audit_events_unpartitioned;

  -- A unique key on a partitioned table must contain the partition column. Uniqueness of the
  -- event id and of the sequence number holds as before: ids are UUIDv7s made per event, and
  -- sequence numbers are assigned under the chain head's lock. Idempotency keys are looked up
  -- under that same lock before an insert (src/audit/repository/append.ts).
  ALTER TABLE public.audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (tenant_id, id, received_at);
  CREATE UNIQUE INDEX audit_events_tenant_seq_key ON public.audit_events (tenant_id, seq, received_at);
  CREATE UNIQUE INDEX audit_events_idempotency_key ON public.audit_events (tenant_id, idempotency_key, received_at)
    WHERE idempotency_key IS NOT NULL;
  CREATE INDEX audit_events_time_idx ON public.audit_events (tenant_id, occurred_at, id);
  CREATE INDEX audit_events_action_idx ON public.audit_events (tenant_id, action, occurred_at, id);
  CREATE INDEX audit_events_actor_idx ON public.audit_events (tenant_id, coalesce(actor_id, ''), occurred_at, id);
  CREATE INDEX audit_events_target_kind_idx ON public.audit_events (tenant_id, coalesce(target_kind, ''), occurred_at, id);
  CREATE INDEX audit_events_group_idx ON public.audit_events (tenant_id, coalesce(group_id, ''), occurred_at, id);
  CREATE INDEX audit_events_actor_email_idx ON public.audit_events (tenant_id, actor_email, occurred_at)
    WHERE actor_email IS NOT NULL;
  CREATE INDEX audit_events_target_id_idx ON public.audit_events (tenant_id, target_id, occurred_at)
    WHERE target_id IS NOT NULL;
  CREATE INDEX audit_events_ip_idx ON public.audit_events (tenant_id, ip_address, occurred_at)
    WHERE ip_address IS NOT NULL;
  CREATE INDEX audit_events_search_idx ON public.audit_events USING gin (public.audit_search_document(
    action, name, title, description, actor_name, actor_email, target_name, target_id, metadata) public.gin_trgm_ops);
  ALTER TABLE public.audit_events ADD CONSTRAINT audit_events_tenant_id_tenants_id_fk
    FOREIGN KEY (tenant_id) REFERENCES public.tenants (id);

  GRANT SELECT, INSERT ON public.audit_events TO audit_gateway;
  ALTER TABLE public.audit_events ENABLE ROW LEVEL SECURITY;
  ALTER TABLE public.audit_events FORCE ROW LEVEL SECURITY;
  CREATE POLICY tenant_isolation ON public.audit_events
    USING (tenant_id = nullif(current_setting('app.tenant_id', true), '')::integer)
    WITH CHECK (tenant_id = nullif(current_setting('app.tenant_id', true), '')::integer);
  CREATE TRIGGER audit_events_no_update_delete BEFORE UPDATE OR DELETE ON public.audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only();
  CREATE TRIGGER audit_events_no_truncate BEFORE TRUNCATE ON public.audit_events
    FOR EACH STATEMENT EXECUTE FUNCTION public.audit_events_append_only();
  ANALYZE public.audit_events;
END
$$;
