// The contrib extensions the migrations create (0003: pg_trgm and unaccent for filter.search).
// PGlite loads an extension's code only when it is handed in at creation, so every PGlite this
// project opens, including the one that packs the template, passes these.
import { pg_trgm } from '@electric-sql/pglite/contrib/pg_trgm';
import { unaccent } from '@electric-sql/pglite/contrib/unaccent';

export const PGLITE_EXTENSIONS = { pg_trgm, unaccent };
