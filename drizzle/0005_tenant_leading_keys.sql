-- Every primary key leads with the tenant, so a distributed Postgres (Citus, distributed by
-- tenant_id) can keep each tenant's rows on one shard and enforce the key there
-- (test/tenant-keys.test.ts; docs/scaling.md). The events' key was (id) alone: it becomes
-- (tenant_id, <the key's columns as they are>), which also holds when an earlier migration has
-- made the key include a partition column. Event ids stay random UUIDs; every lookup by id
-- already names the tenant.
DO $$
DECLARE
  key_name text;
  key_columns text;
BEGIN
  SELECT min(c.conname), string_agg(quote_ident(a.attname), ', ' ORDER BY k.n)
    INTO key_name, key_columns
    FROM pg_constraint c
    CROSS JOIN LATERAL unnest(c.conkey) WITH ORDINALITY AS k(attnum, n)
    JOIN pg_attribute a ON a.attrelid = c.conrelid AND a.attnum = k.attnum
   WHERE c.conrelid = 'public.audit_events'::regclass AND c.contype = 'p';
  IF key_columns IS NOT NULL AND split_part(key_columns, ', ', 1) <> 'tenant_id' THEN
    EXECUTE format('ALTER TABLE public.audit_events DROP CONSTRAINT %I', key_name);
    EXECUTE format('ALTER TABLE public.audit_events ADD CONSTRAINT audit_events_pkey PRIMARY KEY (tenant_id, %s)', key_columns);
  END IF;
END
$$;
