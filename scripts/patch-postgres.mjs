#!/usr/bin/env node
// Run by `npm install` / `npm ci` (postinstall). Patches postgres.js 3.4.9 against a crash of the
// whole process when the database server goes away during a transaction (porsager/postgres#1154,
// #1208; unfixed upstream). When the server closes a connection, postgres.js rejects the pending
// query, and its transaction wrapper then sends ROLLBACK on that same connection: the bytes are
// buffered and written from a setImmediate to a socket that is null by then, a TypeError thrown
// outside any promise. The patch refuses a query on a closed connection with CONNECTION_CLOSED (the
// pool reconnects the connection for the next query) and drops bytes buffered for a closed socket,
// so they are never sent ahead of the next connection's startup message.
// test/fault/db-restart.test.ts kills the database under load and fails without this patch.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const MARK = '/* audit-gateway: closed-socket patch */';
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'postgres');

const edits = [
  {
    what: 'refuse a query on a connection the server has closed',
    from: `    if (terminated)
      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))
`,
    to: `    if (terminated)
      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))

    ${MARK}
    if (!socket)
      return (queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true)
`,
  },
  {
    what: 'never write to a closed socket',
    from: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    to: `  function nextWrite(fn) {
    if (!socket)
      return (chunk = nextWriteTimer = null, false)
    const x = socket.write(chunk, fn)`,
  },
  {
    what: 'forget what was buffered for the closed socket',
    from: `    incomings = null
    clearImmediate(nextWriteTimer)
    socket.removeListener('data', data)`,
    to: `    incomings = null
    clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null
    socket.removeListener('data', data)`,
  },
];

if (!existsSync(root)) process.exit(0); // not installed (yet): nothing to patch
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const file of ['src/connection.js', 'cjs/src/connection.js']) {
  const target = path.join(root, file);
  let text = readFileSync(target, 'utf8');
  if (text.includes(MARK)) continue;
  for (const edit of edits) {
    if (!text.includes(edit.from)) {
      process.stderr.write(
        `scripts/patch-postgres.mjs: postgres ${version} ${file} no longer matches (${edit.what}).\n` +
          'Check whether upstream fixed porsager/postgres#1208, then update or remove this patch.\n',
      );
      process.exit(1);
    }
    text = text.replace(edit.from, edit.to);
  }
  writeFileSync(target, text);
}
