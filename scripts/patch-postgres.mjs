#!/usr/bin/env node
// Run by `npm install` / `npm ci` (postinstall). Patches postgres.js 3.4.9 for a database server
// that goes away (porsager/postgres#1154, #1208; unfixed upstream):
// - When the server closes a connection, postgres.js rejects the pending query, and its
//   transaction wrapper then sends ROLLBACK on that same connection: the bytes are buffered and
//   written from a setImmediate to a socket that is null by then, a TypeError thrown outside any
//   promise that ends the process. A query on a closed connection is now refused with
//   CONNECTION_CLOSED (the pool reconnects the connection for the next query), and bytes buffered
//   for a closed socket are dropped rather than sent ahead of the next startup message.
// - The rejected query stayed the connection's current query. On the next connection attempt an
//   error from a server still starting up (57P03) was taken as that query's, so the new query was
//   not failed but retried until the server accepted connections: requests hung for the whole
//   crash recovery. The dead session's query and error are now forgotten when it closes.
// - A reserved connection (sql.reserve()) that the server closed was still handed back to the
//   pool by release(): it went to the idle queue with no socket (or while the pool was already
//   reconnecting it), and every later query routed to it failed. A reserved connection the server
//   closed now refuses further queries, and releasing it leaves it to the pool's reconnect.
//   Queries queued on it behind a busy pipeline were never settled when it closed (whoever
//   awaited them hung); they now fail with it, as a transaction's do.
// - A reservation (sql.reserve()) could wait forever: when a connection closes while
//   reservations wait, the pool reconnects it for the first of them, and the connection dropped
//   it while fetching its types (or, without a type fetch, went idle outside the pool); and a
//   reservation whose connection attempt failed stayed in the pool's queue and swallowed the next
//   connection. A reservation is now settled once, by the first connection ready for it (a later
//   one serves the queue instead), and leaves the queue. (src/db/client.ts runs every tenant
//   transaction on a reserved connection.)
// test/fault/db-restart.test.ts kills the database under load and fails without this patch;
// test/pipelined-reads.test.ts cuts a reserved connection, with and without a reservation waiting
// for it (both hang without it); test/fault/replicas.test.ts kills a replica under read load.
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', 'node_modules', 'postgres');

const edits = [
  {
    file: 'connection.js',
    what: 'refuse a query on a connection the server has closed',
    from: `    if (terminated)
      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))
`,
    to: `    if (terminated)
      return queryError(q, Errors.connection('CONNECTION_DESTROYED', options))

    if (!socket) // audit-gateway patch: closed by the server, not reconnected yet
      return (queryError(q, Errors.connection('CONNECTION_CLOSED', options)), true)
`,
  },
  {
    file: 'connection.js',
    what: 'never write to a closed socket',
    from: `  function nextWrite(fn) {
    const x = socket.write(chunk, fn)`,
    to: `  function nextWrite(fn) {
    if (!socket) // audit-gateway patch
      return (chunk = nextWriteTimer = null, false)
    const x = socket.write(chunk, fn)`,
  },
  {
    file: 'connection.js',
    what: 'forget what was buffered for the closed socket',
    from: `    clearImmediate(nextWriteTimer)
    socket.removeListener('data', data)`,
    to: `    clearImmediate(nextWriteTimer)
    chunk = nextWriteTimer = null // audit-gateway patch
    socket.removeListener('data', data)`,
  },
  {
    file: 'connection.js',
    what: "forget the closed session's query and error once they are settled",
    from: `    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))
`,
    to: `    !hadError && (query || sent.length) && error(Errors.connection('CONNECTION_CLOSED', options, socket))
    query = errorResponse = null // audit-gateway patch
`,
  },
  {
    file: 'connection.js',
    what: 'a connection reconnected for a reservation serves the queue',
    from: `      initial && !initial.reserve && execute(initial)
      options.shared.retries = retries = 0
      initial = null
      return
`,
    to: `      const reserving = initial && initial.reserve && initial // audit-gateway patch
      initial && !initial.reserve && execute(initial)
      options.shared.retries = retries = 0
      initial = null
      return reserving ? reserving.reserve(connection) : undefined // audit-gateway patch
`,
  },
  {
    file: 'connection.js',
    what: 'a reservation stays the initial query while the types are fetched',
    from: `        initial.reserve && (initial = null)
        return fetchArrayTypes()`,
    to: `        return fetchArrayTypes() // audit-gateway patch: then the reservation is served, below`,
  },
  {
    file: 'index.js',
    what: 'a reservation that failed leaves the queue',
    from: `        const query = { reserve: resolve, reject }`,
    to: `        const query = { // audit-gateway patch: settled once, by whichever connection comes first
          reserve: c => query.settled ? onopen(c) : (query.settled = true, queries.remove(query), resolve(c)),
          reject: e => query.settled || (query.settled = true, queries.remove(query), reject(e))
        }`,
  },
  {
    file: 'index.js',
    what: 'fail the queries queued on a reserved connection when it closes',
    from: `    c.reserved.release = true

    const sql = Sql(handler)`,
    to: `    c.reserved.release = true
    c.onclose = e => { // audit-gateway patch: queued queries fail with the closed connection
      while (queue.length)
        queue.shift().reject(e)
    }

    const sql = Sql(handler)`,
  },
  {
    file: 'index.js',
    what: 'release a reserved connection only while it is still reserved',
    from: `    sql.release = () => {
      c.reserved = null
      onopen(c)
    }`,
    to: `    sql.release = () => {
      if (!c.reserved) // audit-gateway patch: released already, or closed by the server (the pool reconnects it)
        return
      c.reserved = c.onclose = null
      onopen(c)
    }`,
  },
  {
    file: 'index.js',
    what: 'refuse queries on a reserved connection the server closed',
    from: `    function handler(q) {
      c.queue === full
        ? queue.push(q)`,
    to: `    function handler(q) {
      if (!c.reserved) // audit-gateway patch: released, or closed by the server
        return q.reject(Errors.connection('CONNECTION_CLOSED', options))
      c.queue === full
        ? queue.push(q)`,
  },
];

if (!existsSync(root)) process.exit(0); // not installed (yet): nothing to patch
const { version } = JSON.parse(readFileSync(path.join(root, 'package.json'), 'utf8'));
for (const file of ['connection.js', 'index.js'].flatMap((name) => [`src/${name}`, `cjs/src/${name}`])) {
  const target = path.join(root, file);
  const original = readFileSync(target, 'utf8');
  let text = original;
  for (const edit of edits.filter((e) => file.endsWith(`/${e.file}`))) {
    if (text.includes(edit.to)) continue; // patched by an earlier install
    if (!text.includes(edit.from)) {
      process.stderr.write(
        `scripts/patch-postgres.mjs: postgres ${version} ${file} no longer matches (${edit.what}).\n` +
          'Check whether upstream fixed porsager/postgres#1208, then update or remove this patch.\n',
      );
      process.exit(1);
    }
    text = text.replace(edit.from, edit.to);
  }
  if (text !== original) writeFileSync(target, text);
}
