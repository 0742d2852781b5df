-- filter.search (docs/analysts.md#search): a substring search over one folded text per event,
-- served by a trigram index. Hand-written around the index drizzle-kit generated: it cannot emit
-- extensions or functions. pg_trgm and unaccent are trusted extensions (PostgreSQL 13+), so the
-- migration role needs CREATE on the database, not superuser; PGlite ships both. Every statement
-- is idempotent, so on a large table an operator can run them by hand first, the index with
-- CREATE INDEX CONCURRENTLY, and ingest is not blocked while it builds (docs/analysts.md#search).
CREATE EXTENSION IF NOT EXISTS pg_trgm WITH SCHEMA public;
--> statement-breakpoint
CREATE EXTENSION IF NOT EXISTS unaccent WITH SCHEMA public;
--> statement-breakpoint
-- Case and accents folded the same way for the stored text and the search term. unaccent() is
-- only STABLE because its dictionary could be edited; this one is named, and the index depends
-- on it not changing, hence IMMUTABLE. The SQL-standard body binds its objects now, so no
-- search_path can swap them.
CREATE OR REPLACE FUNCTION public.audit_search_fold(value text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN lower(public.unaccent('public.unaccent'::regdictionary, value));
--> statement-breakpoint
-- What filter.search looks in: the searchable fields and every scalar value in metadata (not its
-- keys), separated by spaces. A search word never holds a space, so it cannot match across two
-- fields.
CREATE OR REPLACE FUNCTION public.audit_search_document(
  action text, name text, title text, description text, actor_name text, actor_email text,
  target_name text, target_id text, metadata jsonb
) RETURNS text
  LANGUAGE sql IMMUTABLE PARALLEL SAFE
  RETURN public.audit_search_fold(concat_ws(' ', action, name, title, description, actor_name, actor_email,
    target_name, target_id,
    (SELECT string_agg(v #>> '{}', ' ') FROM jsonb_path_query(metadata, 'strict $.**') AS v
      WHERE jsonb_typeof(v) NOT IN ('object', 'array'))));
--> statement-breakpoint
-- A search word as the LIKE pattern the index serves: folded like the document, its own % _ and \
-- taken literally (folding can make them: a full-width ％ becomes %), anywhere in the text.
CREATE OR REPLACE FUNCTION public.audit_search_pattern(word text) RETURNS text
  LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE
  RETURN '%' || replace(replace(replace(public.audit_search_fold(word), E'\\', E'\\\\'), '%', E'\\%'), '_', E'\\_') || '%';
--> statement-breakpoint
CREATE INDEX IF NOT EXISTS "audit_events_search_idx" ON "audit_events" USING gin (public.audit_search_document("action", "name", "title", "description", "actor_name", "actor_email", "target_name", "target_id", "metadata") public.gin_trgm_ops);
--> statement-breakpoint
-- Under row-level security (0001) PostgreSQL applies a query's own conditions only after the
-- tenant policy, unless every function in them is LEAKPROOF; otherwise the trigram index cannot
-- serve filter.search, and a rare word reads every event of the tenant (5 s instead of 10 ms on
-- a 165k-event tenant). LEAKPROOF means a function reveals nothing about its arguments but its
-- result. audit_search_document raises no error on any row. textlike (LIKE on text) raises one
-- only for a pattern ending in the escape character, and the gateway's patterns come from
-- audit_search_pattern, never from a row. Only a superuser may mark a function LEAKPROOF; a
-- migration role that is not one leaves search correct but slow on large tenants, and
-- docs/analysts.md#search says what a superuser runs.
DO $$
BEGIN
  IF (SELECT rolsuper FROM pg_roles WHERE rolname = current_user) THEN
    ALTER FUNCTION pg_catalog.textlike(text, text) LEAKPROOF;
    ALTER FUNCTION public.audit_search_document(text, text, text, text, text, text, text, text, jsonb) LEAKPROOF;
  ELSE
    RAISE NOTICE 'filter.search: not a superuser, so LIKE is not marked LEAKPROOF and cannot use the trigram index under row-level security; see docs/analysts.md#search';
  END IF;
END $$;
