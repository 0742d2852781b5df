// PGlite keeps no lock of its own: two processes opening one data directory silently lose
// writes. proper-lockfile gives us an exclusive, stale-aware lock on DATA_DIR.
import lockfile from 'proper-lockfile';

export async function acquireDataDirLock(dataDir: string): Promise<() => Promise<void>> {
  try {
    return await lockfile.lock(dataDir, { stale: 15_000, update: 5_000, realpath: false });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ELOCKED') {
      throw new Error(
        `The embedded database in ${dataDir} is in use by another audit-gateway process. ` +
          'Stop it first, or point both at a shared Postgres with DATABASE_URL.',
      );
    }
    throw error;
  }
}
