// End-to-end tests of `kuzusync sync` as a site's cron job runs it: real Kuzu
// 0.11.3 databases (npm kuzu) are changed live and exported again over the
// site's export directory (the state beside it survives), then synced with a
// hub (a plain directory, an ssh remote, or the TLS daemon).
// Run: node --test --test-concurrency=1 tests/e2e/sync-cron.test.mjs
//
// Covers: counters merged as base + Δlocal + Δremote (and the same scenario
// as a conflict without --merge-counters); the checkpoint (an incremental run
// after 100 changed rows moves exactly those); --policy fail (nothing changes
// anywhere, the conflict is pending) then local-wins; a second sync of the
// same LOCAL exits 3 at once; --dry-run and -q; syncs killed with SIGKILL at
// random moments (and right after the remote took the push) converge to what
// an uninterrupted run produces; bad input exits 2 naming file and line.
//
// KILL_SEED=<n> reproduces a kill run; KILL_RUNS=<n> changes how many.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tempDir, copyDir, kuzusync, describeRun, binExists, newDb, openDb, isReplicaState, KUZUSYNC_BIN,
} from './lib/kuzu.mjs';
import { spawn, spawnSync } from 'node:child_process';
import { parseCsv } from './lib/reference.mjs';
import { dirHash, sleep, spawnKuzusync } from './lib/bundle-helpers.mjs';
import { assertSyncJson, assertConflictShape } from './lib/sync-json.mjs';
import { rng, buildPeople, userKey } from './lib/graphs.mjs';
import { stopAllServers } from './lib/servers.mjs';
import { makeTls, makeTokens, startDaemon } from './lib/daemon.mjs';
import { startSshd, sshdUnavailable } from './lib/sshd.mjs';

after(async () => {
  await stopAllServers();
});

// ---------------------------------------------------------------- helpers

function requireBin() {
  assert.ok(binExists(), `kuzusync binary not found at ${KUZUSYNC_BIN} (build into build/ or set KUZUSYNC_BIN)`);
}

/** kuzusync with a timeout suited to a sync (a hang is a failure, not a stuck suite). */
const ks = (args, timeout = 60_000) => kuzusync(args, { timeout });


/** `sync LOCAL REMOTE --json extra...`: asserts the exit code and the documented JSON shape. */
function sync(local, remote, extra = [], { expect = 0 } = {}) {
  const r = ks(['sync', local, remote, '--json', ...extra]);
  assert.equal(r.status, expect, `sync exit code\n${describeRun(r)}`);
  assertSyncJson(r, 'sync --json');
  return r;
}

const RUN_KEYS = {
  id: 'number', started: 'string', finished: 'string', peer: 'string', mode: 'string', reason: 'string',
  rows_in: 'number', rows_out: 'number', conflicts: 'number', bytes_sent: 'number', bytes_received: 'number',
  outcome: 'string', message: 'string',
};
const CHECKPOINT_KEYS = {
  peer: 'string', at: 'string', root: 'string', events: 'number', tables: 'string', remote_vector: 'string',
  base_checksum: 'string', base_bytes: 'number',
};

function assertKeys(obj, keys, what) {
  for (const [k, type] of Object.entries(keys)) {
    assert.equal(typeof obj?.[k], type, `${what}: ${k} is a ${type} in ${JSON.stringify(obj)}`);
  }
}

/** `status|log|conflicts LOCAL --json`, asserting exit 0, JSON and the documented shape. */
function info(cmd, local) {
  const r = ks([cmd, local, '--json']);
  assert.equal(r.status, 0, describeRun(r));
  let v;
  try { v = JSON.parse(r.stdout); } catch (e) { assert.fail(`${cmd} --json is not JSON: ${e.message}\n${describeRun(r)}`); }
  if (cmd === 'log') {
    assert.ok(Array.isArray(v), describeRun(r));
    for (const run of v) assertKeys(run, RUN_KEYS, 'log --json');
  } else if (cmd === 'conflicts') {
    assert.ok(Array.isArray(v), describeRun(r));
    for (const c of v) assertConflictShape(c, 'conflicts --json');
  } else {
    assertKeys(v, { replica_id: 'string', vector: 'object', checkpoints: 'object', last_runs: 'object', pending_conflicts: 'object' }, 'status --json');
    for (const c of v.checkpoints) assertKeys(c, CHECKPOINT_KEYS, 'status --json checkpoint');
    for (const run of v.last_runs) assertKeys(run, RUN_KEYS, 'status --json last run');
    for (const c of v.pending_conflicts) assertConflictShape(c, 'status --json pending');
  }
  return v;
}

/** Asserts `kuzusync diff a b` exits 0 (shows the rows when not). */
function assertSame(a, b, label, extra = []) {
  const r = ks(['diff', a, b, ...extra]);
  if (r.status !== 0) {
    const rows = ks(['diff', a, b, '--rows', ...extra]);
    assert.fail(`${label}: ${a} and ${b} differ\n${describeRun(r)}\n${describeRun(rows)}`);
  }
}

/** Rows (arrays of fields, null = NULL) of one data file of an export. */
function rowsOf(dir, file) {
  return parseCsv(fs.readFileSync(path.join(dir, file), 'utf8'), file).map(r => r.fields);
}

/** The row of node file `file` whose first column is `key`. */
function rowByKey(dir, file, key) {
  return rowsOf(dir, file).find(f => f[0] === String(key));
}

/**
 * A site: a live Kuzu database and its export directory. export() exports
 * again beside it and puts the new version in place of the old directory, as
 * a site's cron job does; the sync state beside the directory stays.
 */
class Site {
  constructor(db, dir) {
    this.db = db;
    this.dir = dir;
  }

  async export() {
    const next = `${this.dir}.next-export`;
    fs.rmSync(next, { recursive: true, force: true });
    await this.db.exportCsv(next);
    fs.rmSync(this.dir, { recursive: true, force: true });
    fs.renameSync(next, this.dir);
    return this.dir;
  }

  q(cypher) {
    return this.db.q(cypher);
  }
}

/** Builds a database with `build(db)` in `dir`/base.db, closes it, returns its file. */
async function baseDbFile(dir, build) {
  const file = path.join(dir, 'base.db');
  const db = await openDb(file);
  await build(db);
  await db.close(); // checkpoints: the database is one file afterwards
  const wal = `${file}.wal`;
  if (fs.existsSync(wal) && fs.statSync(wal).size > 0) throw new Error(`${wal} not empty after close`);
  return file;
}

/**
 * A site whose database is a copy of `baseFile` at `dbFile`, exported to
 * `exportDir` (must not exist). The database is closed before the test's temp
 * dir is removed.
 */
async function openSite(t, baseFile, dbFile, exportDir) {
  fs.copyFileSync(baseFile, dbFile);
  const db = await newDb(t, path.dirname(dbFile), path.basename(dbFile));
  const site = new Site(db, exportDir);
  await site.export();
  return site;
}

/** Sites with the same starting content: `<dir>/<name>.db` exported to `<dir>/<name>`. */
async function sitesFrom(t, dir, baseFile, names) {
  const out = {};
  for (const name of names) out[name] = await openSite(t, baseFile, path.join(dir, `${name}.db`), path.join(dir, name));
  return out;
}

/** Sites A and B (100 users) and a path hub, all three at a first checkpoint. */
async function twoSitesInSync(t) {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, db => buildPeople(db, dir, { users: 100, cities: 5 }));
  const { A, B } = await sitesFrom(t, dir, baseFile, ['A', 'B']);
  const hub = copyDir(A.dir, path.join(dir, 'hub'));
  sync(A.dir, hub);
  sync(B.dir, hub);
  return { dir, A, B, hub };
}

/** Copies a replica and the state beside it into `into`/ (created). */
function backup(replica, into) {
  fs.mkdirSync(into, { recursive: true });
  const name = path.basename(replica);
  const parent = path.dirname(replica);
  for (const n of [name, `.${name}.kuzusync`]) {
    if (fs.existsSync(path.join(parent, n))) fs.cpSync(path.join(parent, n), path.join(into, n), { recursive: true });
  }
}

/** Puts a backup() back: the replica and its state exactly as they were. */
function restore(replica, from) {
  const name = path.basename(replica);
  const parent = path.dirname(replica);
  for (const n of [name, `.${name}.kuzusync`]) {
    fs.rmSync(path.join(parent, n), { recursive: true, force: true });
    if (fs.existsSync(path.join(from, n))) fs.cpSync(path.join(from, n), path.join(parent, n), { recursive: true });
  }
}

/** TLS daemon over `root` with an rw token; stopped after the test. Returns {srv, args}. */
async function daemonFor(t, dir, root, extra = []) {
  const tls = makeTls(path.join(dir, 'tls'));
  const tok = makeTokens(dir, { rw: 'rw' });
  const srv = await startDaemon({
    root, cert: tls.cert, key: tls.key, tokenFile: tok.file, logFile: path.join(dir, 'daemon.log'), extra,
  });
  t.after(() => srv.stop());
  return { srv, args: ['--ca-file', tls.ca, '--token-file', tok.tokens.rw] };
}

/**
 * Sets TMPDIR for the kuzusync processes of the rest of test `t` (spawn and
 * spawnSync inherit process.env); the old value is back after the test.
 */
function useTmpdir(t, dir) {
  const old = process.env.TMPDIR;
  process.env.TMPDIR = dir;
  t.after(() => {
    if (old === undefined) delete process.env.TMPDIR;
    else process.env.TMPDIR = old;
  });
}

/** Entries beside replicas in `parent` that are neither a replica nor its documented state. */
function strays(parent, replicas) {
  return fs.readdirSync(parent).filter(f => !replicas.includes(f) && !isReplicaState(f));
}

// Product(id INT64 PK, name STRING, stock INT64): 20 products with stock 100.
async function buildProducts(db) {
  await db.run(`
    CREATE NODE TABLE Product(id INT64, name STRING, stock INT64, PRIMARY KEY(id));
    CREATE REL TABLE Bundles(FROM Product TO Product, qty INT64);
  `);
  await db.q(`UNWIND range(1, 20) AS i CREATE (:Product {id: i, name: 'product ' + cast(i AS STRING), stock: 100})`);
  await db.q(`MATCH (a:Product), (b:Product) WHERE b.id = a.id + 1 CREATE (a)-[:Bundles {qty: a.id}]->(b)`);
}

// ---------------------------------------------------------------- 1

test('1. counters: A sells 5, B sells 3, syncs through a hub give stock 92 everywhere; without --merge-counters a listed conflict', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, buildProducts);

  // One scenario, in its own subdirectory: sync A, B (full), sell, sync A, B, A.
  async function scenario(name, extra) {
    const sub = path.join(dir, name);
    fs.mkdirSync(sub);
    const { A, B } = await sitesFrom(t, sub, baseFile, ['A', 'B']);
    const hub = copyDir(A.dir, path.join(sub, 'hub'));
    const first = [sync(A.dir, hub, extra).json, sync(B.dir, hub, extra).json];
    for (const j of first) {
      assert.equal(j.mode, 'full', JSON.stringify(j));
      assert.equal(j.reason, 'no checkpoint', JSON.stringify(j));
      assert.equal(j.rows_in + j.rows_out, 0, `identical replicas: nothing moves\n${JSON.stringify(j)}`);
    }
    await A.q(`MATCH (p:Product {id: 7}) SET p.stock = p.stock - 5, p.name = 'product 7 (renamed at A)'`);
    await A.export();
    await B.q(`MATCH (p:Product {id: 7}) SET p.stock = p.stock - 3`);
    await B.export();
    assert.deepEqual(rowByKey(A.dir, 'Product.csv', 7), ['7', 'product 7 (renamed at A)', '95']);
    assert.deepEqual(rowByKey(B.dir, 'Product.csv', 7), ['7', 'product 7', '97']);
    const a1 = sync(A.dir, hub, extra).json;
    const b1 = sync(B.dir, hub, extra).json;
    const a2 = sync(A.dir, hub, extra).json;
    return { A, B, hub, a1, b1, a2 };
  }

  await t.test('with --merge-counters Product.stock', async () => {
    const { A, B, hub, a1, b1, a2 } = await scenario('counters', ['--merge-counters', 'Product.stock']);
    t.diagnostic(`A: ${JSON.stringify(a1)}\nB: ${JSON.stringify(b1)}\nA again: ${JSON.stringify(a2)}`);
    assert.equal(a1.mode, 'incremental', JSON.stringify(a1));
    assert.deepEqual([a1.rows_in, a1.rows_out, a1.local_changed, a1.remote_changed], [0, 1, true, false], JSON.stringify(a1));
    assert.equal(b1.mode, 'incremental', JSON.stringify(b1));
    assert.deepEqual([b1.rows_in, b1.rows_out], [1, 1], `B takes the merged row and sends it: ${JSON.stringify(b1)}`);
    assert.deepEqual(b1.conflicts, [], `a counter merged with another column changed on one side is no conflict: ${JSON.stringify(b1)}`);
    assert.equal(a2.rows_in, 1, JSON.stringify(a2));
    assert.equal(a2.rows_out, 0, JSON.stringify(a2));
    for (const [name, d] of [['A', A.dir], ['B', B.dir], ['hub', hub]]) {
      assert.deepEqual(rowByKey(d, 'Product.csv', 7), ['7', 'product 7 (renamed at A)', '92'],
        `${name}: stock 100 - 5 - 3 = 92, with A's new name`);
      assert.ok(rowsOf(d, 'Product.csv').filter(f => f[0] !== '7').every(f => f[2] === '100'), `${name}: other products untouched`);
    }
    assertSame(A.dir, B.dir, 'A and B');
    assertSame(A.dir, hub, 'A and hub');
    assert.deepEqual(info('conflicts', B.dir), [], 'no conflict recorded');
    assert.equal(sync(B.dir, hub, ['--merge-counters', 'Product.stock']).json.outcome, 'in sync');
  });

  await t.test('without --merge-counters: a conflict, listed by conflicts --json', async () => {
    const { A, B, hub, b1 } = await scenario('plain', []);
    t.diagnostic(`B: ${JSON.stringify(b1)}`);
    assert.equal(b1.conflicts.length, 1, JSON.stringify(b1));
    const c = b1.conflicts[0];
    assert.equal(c.table, 'Product');
    assert.equal(c.key, '7');
    assert.equal(c.base, '7,product 7,100');
    assert.equal(c.local, '7,product 7,97');
    assert.equal(c.remote, '7,product 7 (renamed at A),95');
    assert.ok(['local', 'remote'].includes(c.resolution), JSON.stringify(c));
    assert.ok(c.detail.length > 0, JSON.stringify(c));
    const listed = info('conflicts', B.dir);
    assert.equal(listed.length, 1, JSON.stringify(listed));
    for (const k of ['table', 'key', 'base', 'local', 'remote', 'resolution', 'detail']) {
      assert.equal(listed[0][k], c[k], `conflicts --json ${k}: ${JSON.stringify(listed[0])}`);
    }
    // Whichever version won is everywhere; stock is 95 or 97, never summed.
    const winner = c.resolution === 'local' ? ['7', 'product 7', '97'] : ['7', 'product 7 (renamed at A)', '95'];
    for (const d of [A.dir, B.dir, hub]) assert.deepEqual(rowByKey(d, 'Product.csv', 7), winner, d);
    assertSame(A.dir, B.dir, 'A and B');
    assertSame(A.dir, hub, 'A and hub');
  });
});

// ---------------------------------------------------------------- 2

test('2. checkpoint: after a full sync, 100 updated rows sync incrementally, exactly 100 out, events +100', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, db => buildPeople(db, dir, { users: 500, cities: 10 }));
  const { A } = await sitesFrom(t, dir, baseFile, ['A']);
  const hub = copyDir(A.dir, path.join(dir, 'hub'));

  const first = sync(A.dir, hub).json;
  assert.equal(first.mode, 'full');
  assert.equal(first.reason, 'no checkpoint');
  assert.equal(first.full_resync_required, true);
  const cp0 = info('status', A.dir).checkpoints;
  assert.equal(cp0.length, 1, JSON.stringify(cp0));
  assert.equal(cp0[0].root, first.root, 'the checkpoint holds the merged root');
  const events0 = cp0[0].events;
  assert.equal(sync(A.dir, hub).json.outcome, 'in sync', 'nothing changed since the first sync');
  await A.export(); // a new export of the unchanged database: other files, other row order, same rows
  const again = sync(A.dir, hub).json;
  assert.equal(again.outcome, 'in sync', `a re-export without changes is in sync: ${JSON.stringify(again)}`);
  assert.equal(again.local_changed, false, JSON.stringify(again));

  const changed = await A.q(`MATCH (u:User) WHERE u.name < 'user-0100' SET u.age = u.age + 1000 RETURN count(*) AS n`);
  assert.equal(Number(changed[0].n), 100);
  await A.export();
  const hubBefore = dirHash(hub);
  const j = sync(A.dir, hub).json;
  t.diagnostic(JSON.stringify(j));
  assert.equal(j.outcome, 'synced');
  assert.equal(j.mode, 'incremental');
  assert.equal(j.reason, '');
  assert.equal(j.full_resync_required, false);
  assert.equal(j.local_changed, true);
  assert.equal(j.remote_changed, false);
  assert.equal(j.rows_out, 100, 'exactly the 100 updated rows go out');
  assert.equal(j.rows_in, 0);
  assert.deepEqual(j.conflicts, []);
  assert.notEqual(dirHash(hub), hubBefore, 'the hub was changed');
  assertSame(A.dir, hub, 'after the incremental sync');
  const hubUsers = rowsOf(hub, 'User.csv');
  assert.equal(hubUsers.filter(f => Number(f[1]) >= 1000).length, 100, 'the hub holds the 100 new ages');
  assert.equal(hubUsers.length, 500);
  const cp1 = info('status', A.dir).checkpoints;
  assert.equal(cp1.length, 1);
  assert.equal(cp1[0].events, events0 + 100, `checkpoint events grow by 100: ${JSON.stringify(cp1)}`);
  assert.equal(j.events, cp1[0].events);
  assert.equal(cp1[0].root, j.root);
  assert.equal(sync(A.dir, hub).json.outcome, 'in sync');
});

test('2b. a damaged base: the next sync is full ("checkpoint unreadable"), completes, and checkpoints again', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, db => buildPeople(db, dir, { users: 200, cities: 5 }));
  const { A } = await sitesFrom(t, dir, baseFile, ['A']);
  const hub = copyDir(A.dir, path.join(dir, 'hub'));
  sync(A.dir, hub);
  // Damage the stored base (sqlite3 CLI: the state is an ordinary database).
  const db = path.join(path.dirname(A.dir), `.${path.basename(A.dir)}.kuzusync`, 'state.db');
  const r = spawnSync('sqlite3', [db, "UPDATE base_chunks SET data = X'00' WHERE seq = 0"], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  // A local change needs the base; the hub is unchanged (it answers without its trees at first).
  await A.q(`MATCH (u:User) WHERE u.name = 'user-0007' SET u.age = 7007`);
  await A.export();
  const j = sync(A.dir, hub).json;
  assert.equal(j.mode, 'full', JSON.stringify(j));
  assert.match(j.reason, /^checkpoint unreadable: .*checksum/, JSON.stringify(j));
  assert.equal(j.outcome, 'synced');
  assertSame(A.dir, hub, 'after the full sync');
  // Without a base nobody can tell which side changed the row: a conflict,
  // resolved by the policy, with the losing version kept.
  const c = j.conflicts.find(x => x.table === 'User' && x.key === 'user-0007');
  assert.ok(c, `the changed row is a listed conflict: ${JSON.stringify(j.conflicts)}`);
  assert.equal(c.base, 'unknown');
  assert.match(c.local, /,7007,/);
  assert.ok(['local', 'remote'].includes(c.resolution), JSON.stringify(c));
  const winner = parseCsv(c.resolution === 'local' ? c.local : c.remote)[0].fields;
  assert.deepEqual(rowByKey(hub, 'User.csv', 'user-0007'), winner, 'the winner is on both sides');
  const next = sync(A.dir, hub).json;
  assert.equal(next.outcome, 'in sync', `a new checkpoint was stored: ${JSON.stringify(next)}`);
  assert.equal(next.mode, 'incremental');
});

// ---------------------------------------------------------------- 3

test('3. --policy fail: exit 1, nothing changed anywhere, conflict pending; then local-wins puts the local version everywhere', { timeout: 60_000 }, async t => {
  const { dir, A, B, hub } = await twoSitesInSync(t);

  // Two conflicts (same row, different notes; deleted at A, updated at B),
  // plus one change on each side that would flow.
  const X = userKey(42);
  const Y = userKey(43);
  await A.q(`MATCH (u:User {name: '${X}'}) SET u.note = 'from A'`);
  await A.q(`MATCH (u:User {name: '${Y}'}) DETACH DELETE u`);
  await A.q(`CREATE (:User {name: 'only-at-A', age: 1, note: 'A'})`);
  await A.export();
  await B.q(`MATCH (u:User {name: '${X}'}) SET u.note = 'from B'`);
  await B.q(`MATCH (u:User {name: '${Y}'}) SET u.age = 99`);
  await B.q(`MATCH (u:User {name: '${userKey(7)}'})-[f:Follows]->() DELETE f`);
  await B.export();
  const b1 = sync(B.dir, hub).json;
  assert.equal(b1.rows_out, 3, `B's three changes reach the hub: ${JSON.stringify(b1)}`);

  const hashA = dirHash(A.dir);
  const hashHub = dirHash(hub);
  const r = ks(['sync', A.dir, hub, '--json', '--policy', 'fail']);
  t.diagnostic(describeRun(r));
  assert.equal(r.status, 1, `a conflict under --policy fail exits 1\n${describeRun(r)}`);
  assert.equal(r.json?.outcome, 'stopped', describeRun(r));
  assert.deepEqual(r.json.conflicts.map(c => [c.table, c.key, c.resolution]).sort(),
    [['User', X, 'unresolved'], ['User', Y, 'unresolved']], describeRun(r));
  const yc = r.json.conflicts.find(c => c.key === Y);
  assert.equal(yc.local, null, `deleted here: local is null\n${JSON.stringify(yc)}`);
  assert.match(yc.remote, /,99,/, JSON.stringify(yc));
  assert.equal(dirHash(A.dir), hashA, 'LOCAL is byte for byte unchanged');
  assert.equal(dirHash(hub), hashHub, 'the remote is byte for byte unchanged');
  assert.match(r.stderr, /conflict/i, 'stderr says why it stopped');

  const st = info('status', A.dir);
  assert.equal(st.pending_conflicts.length, 2, `status lists the pending conflicts: ${JSON.stringify(st)}`);
  const p = st.pending_conflicts.find(c => c.key === X);
  assert.equal(p.table, 'User');
  assert.equal(p.key, X);
  assert.match(p.local, /from A/);
  assert.match(p.remote, /from B/);
  assert.equal(p.resolution, 'unresolved');
  const last = info('log', A.dir).at(-1);
  assert.match(last.outcome, /^stopped/, JSON.stringify(last));
  // A stopped run still must not move the checkpoint: the next run sees the same changes.
  const dry = sync(A.dir, hub, ['--policy', 'fail', '--dry-run'], { expect: 1 }).json;
  assert.equal(dry.conflicts.length, 2, JSON.stringify(dry));

  const lw = sync(A.dir, hub, ['--policy', 'local-wins']).json;
  t.diagnostic(JSON.stringify(lw));
  assert.equal(lw.outcome, 'synced');
  assert.deepEqual(lw.conflicts.map(c => [c.key, c.resolution]).sort(), [[X, 'local'], [Y, 'local']], JSON.stringify(lw));
  for (const d of [A.dir, hub]) {
    assert.equal(rowByKey(d, 'User.csv', Y), undefined, `${d}: the local delete won`);
    assert.ok(!rowsOf(d, 'Follows_User_User.csv').some(f => f[0] === Y || f[1] === Y), `${d}: no rel of the deleted node`);
  }
  assert.deepEqual(rowByKey(A.dir, 'User.csv', X)?.[2], 'from A');
  assert.deepEqual(rowByKey(hub, 'User.csv', X)?.[2], 'from A');
  assert.ok(rowByKey(hub, 'User.csv', 'only-at-A'), 'the hub got A\'s insert');
  assertSame(A.dir, hub, 'A and hub after local-wins');
  assert.deepEqual(info('status', A.dir).pending_conflicts, [], 'no pending conflict after the resolving run');

  const b2 = sync(B.dir, hub).json;
  assert.equal(b2.local_changed, false, JSON.stringify(b2));
  assert.deepEqual(b2.conflicts, []);
  assert.deepEqual(rowByKey(B.dir, 'User.csv', X)?.[2], 'from A', 'the local version is everywhere');
  assert.equal(rowByKey(B.dir, 'User.csv', Y), undefined, 'the delete is everywhere');
  assertSame(A.dir, B.dir, 'A and B');
});

// ---------------------------------------------------------------- 4

test('4. busy: a second sync of the same LOCAL exits 3 at once while the first (slow ssh remote) completes', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, db => buildPeople(db, dir, { users: 100, cities: 5 }));
  const { A } = await sitesFrom(t, dir, baseFile, ['A']);
  const remoteDir = path.join(dir, 'remote');
  fs.mkdirSync(remoteDir);
  const hub = copyDir(A.dir, path.join(remoteDir, 'hub'));
  await A.q(`CREATE (:User {name: 'new at A', age: 3, note: 'x'})`);
  await A.export();

  // The rsh: a wrapper that says it started, sleeps 3 s, then runs the real
  // ssh to a loopback sshd (or, without sshd, the server side directly).
  const started = path.join(dir, 'rsh-started');
  let rshTail;
  let how;
  const why = sshdUnavailable();
  if (!why) {
    const sshd = await startSshd(path.join(dir, 'sshd'));
    t.after(() => sshd.stop());
    rshTail = `exec ${sshd.rsh} "$@"`;
    how = 'ssh to a loopback sshd';
  } else {
    rshTail = `exec '${KUZUSYNC_BIN}' serve --stdio`;
    how = `kuzusync serve --stdio in place of ssh (${why})`;
  }
  const rsh = path.join(dir, 'slow-ssh');
  fs.writeFileSync(rsh, `#!/bin/sh\ntouch '${started}'\nsleep 3\n${rshTail}\n`, { mode: 0o755 });
  t.diagnostic(`slow rsh: ${how}`);
  const spec = `127.0.0.1:${hub}`;
  const args = ['-e', rsh, '--remote-kuzusync', KUZUSYNC_BIN];

  const first = spawnKuzusync(['sync', A.dir, spec, '--json', ...args]);
  const t0 = Date.now();
  while (!fs.existsSync(started)) {
    assert.ok(Date.now() - t0 < 10_000, 'the first sync started its rsh');
    await sleep(10);
  }
  // The first holds the lock from before it connects; the log shows it running.
  assert.equal(info('log', A.dir).at(-1)?.outcome, 'running', 'log --json shows the run in progress');
  const tb = Date.now();
  const second = ks(['sync', A.dir, spec, '--json', ...args], 10_000);
  const secondMs = Date.now() - tb;
  t.diagnostic(`second sync: ${secondMs} ms\n${describeRun(second)}`);
  assert.equal(second.status, 3, `busy exits 3\n${describeRun(second)}`);
  assert.match(second.stderr, /busy/i, describeRun(second));
  assert.ok(secondMs < 1500, `the busy sync exits at once, not after waiting (${secondMs} ms)`);
  const dryBusy = ks(['sync', A.dir, hub, '--dry-run', '-q'], 10_000);
  assert.equal(dryBusy.status, 3, `a dry run of the same LOCAL with another remote is busy too\n${describeRun(dryBusy)}`);

  const res = await first.done;
  t.diagnostic(`first sync: ${Math.round(res.ms)} ms`);
  assert.equal(res.code, 0, res.describe());
  const j = JSON.parse(res.stdout);
  assert.equal(j.outcome, 'synced', res.describe());
  assert.equal(j.rows_out, 1, res.describe());
  assert.ok(res.ms >= 3000, 'the first sync waited for its slow rsh');
  assertSame(A.dir, hub, 'after the first sync');
  const runs = info('log', A.dir);
  assert.deepEqual(runs.map(r => r.outcome), ['synced'], `one run recorded, completed: ${JSON.stringify(runs)}`);
});

test('4b. a hub held by another writer for longer than the daemon\'s --lock-wait: sync exits 3 (busy), nothing changes', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, db => buildPeople(db, dir, { users: 50, cities: 5 }));
  const { A } = await sitesFrom(t, dir, baseFile, ['A']);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const hub = copyDir(A.dir, path.join(root, 'hub'));
  const { srv, args } = await daemonFor(t, dir, root, ['--lock-wait', '1']);
  await A.q(`MATCH (u:User) WHERE u.name = 'user-0003' SET u.age = 333`);
  await A.export();
  // Two syncs that each hold their own replica while writing to the other's
  // would wait for each other forever; the wait is bounded instead.
  const lockFile = path.join(root, '.hub.kuzusync-lock');
  const holder = spawn('flock', ['-x', '-o', lockFile, 'sleep', '30'], { stdio: 'ignore', detached: true });
  t.after(() => { try { process.kill(-holder.pid, 'SIGTERM'); } catch { /* gone */ } });
  for (let i = 0; i < 200 && spawnSync('flock', ['-n', lockFile, 'true']).status === 0; i++) await sleep(25);
  const before = dirHash(hub);
  const t0 = Date.now();
  const r = ks(['sync', A.dir, srv.url('hub'), '--json', ...args]);
  assert.equal(r.status, 3, `busy hub: exit 3\n${describeRun(r)}`);
  assert.match(r.stderr, /busy|locked/, describeRun(r));
  assert.ok(Date.now() - t0 < 15_000, `it gave up after the lock wait, not the holder's 30 s (${Date.now() - t0} ms)`);
  assert.equal(dirHash(hub), before, 'the hub is unchanged');
  process.kill(-holder.pid, 'SIGTERM');
  for (let i = 0; i < 200 && spawnSync('flock', ['-n', lockFile, 'true']).status !== 0; i++) await sleep(25);
  assert.equal(sync(A.dir, srv.url('hub'), args).json.outcome, 'synced', 'once the hub is free the next run completes');
  assertSame(A.dir, hub, 'after the sync');
});

// ---------------------------------------------------------------- 5

test('5. --dry-run reports rows_in/rows_out and changes nothing; -q prints nothing', { timeout: 60_000 }, async t => {
  const { dir, A, B, hub } = await twoSitesInSync(t);

  // A: 3 updates, 2 inserts, 1 rel insert (6 out); B: 2 updates, 1 delete of a node without rels? (users have rels)
  await A.q(`MATCH (u:User) WHERE u.name IN ['${userKey(1)}', '${userKey(2)}', '${userKey(3)}'] SET u.age = 1`);
  await A.q(`UNWIND ['dry-1', 'dry-2'] AS n CREATE (:User {name: n, age: 5, note: 'A'})`);
  await A.q(`MATCH (a:User {name: 'dry-1'}), (b:User {name: 'dry-2'}) CREATE (a)-[:Follows {since: 2025}]->(b)`);
  await A.export();
  await B.q(`MATCH (u:User) WHERE u.name IN ['${userKey(50)}', '${userKey(51)}'] SET u.note = 'B'`);
  await B.q(`MATCH (c:City {name: 'city-4'}) SET c.pop = 4`);
  await B.export();
  sync(B.dir, hub);

  const hashA = dirHash(A.dir);
  const hashHub = dirHash(hub);
  const st0 = info('status', A.dir);
  const dry = sync(A.dir, hub, ['--dry-run']).json;
  t.diagnostic(JSON.stringify(dry));
  assert.equal(dry.outcome, 'dry run');
  assert.equal(dry.mode, 'incremental');
  assert.equal(dry.rows_out, 6, 'A: 3 updates, 2 inserts, 1 rel');
  assert.equal(dry.rows_in, 3, 'from B via the hub: 2 updates, 1 city');
  assert.equal(dirHash(A.dir), hashA, '--dry-run leaves LOCAL alone');
  assert.equal(dirHash(hub), hashHub, '--dry-run leaves the remote alone');
  const st1 = info('status', A.dir);
  assert.deepEqual(st1.checkpoints, st0.checkpoints, '--dry-run leaves the checkpoint alone');
  assert.deepEqual(st1.vector, st0.vector, '--dry-run leaves the version vector alone');
  const dryQ = ks(['sync', A.dir, hub, '--dry-run', '-q']);
  assert.equal(dryQ.status, 0, describeRun(dryQ));
  assert.equal(dryQ.stdout + dryQ.stderr, '', `--dry-run -q prints nothing\n${describeRun(dryQ)}`);
  assert.equal(dirHash(A.dir), hashA);

  const q = ks(['sync', A.dir, hub, '-q']);
  assert.equal(q.status, 0, describeRun(q));
  assert.equal(q.stdout + q.stderr, '', `sync -q prints nothing on success\n${describeRun(q)}`);
  const last = info('log', A.dir).at(-1);
  assert.equal(last.outcome, 'synced', JSON.stringify(last));
  assert.deepEqual([last.rows_in, last.rows_out], [dry.rows_in, dry.rows_out], `the real run moves what the dry run announced: ${JSON.stringify(last)}`);
  assertSame(A.dir, hub, 'after sync -q');
  const q2 = ks(['sync', A.dir, hub, '-q']);
  assert.equal(q2.status, 0, describeRun(q2));
  assert.equal(q2.stdout + q2.stderr, '', `sync -q in sync prints nothing\n${describeRun(q2)}`);
  const plain = ks(['sync', A.dir, hub]);
  assert.equal(plain.status, 0, describeRun(plain));
  assert.match(plain.stderr, /in sync/, `without -q it says so\n${describeRun(plain)}`);
});

// ---------------------------------------------------------------- 6

/**
 * Independent changes to a "people" database, drawn from `rand`: node
 * updates (some in a small hot range shared by both sides, so they meet),
 * inserts (own keys and one key both sides insert), DETACH DELETEs, rel
 * inserts, updates, deletes and duplicates, a LivesIn move and a City update.
 */
async function mutatePeople(site, rand, tag, { users, cities }) {
  const pick = n => Math.floor(rand() * n);
  const hot = 12;
  for (let k = 0; k < 8; k++) {
    const i = k < 3 ? pick(hot) : pick(users);
    await site.q(`MATCH (x:User {name: '${userKey(i)}'}) SET x.age = ${pick(1000)}, x.note = '${tag} edit ${k}'`);
  }
  await site.q(`UNWIND range(0, 5) AS j CREATE (:User {name: '${tag}-new-' + cast(j AS STRING), age: j, note: 'new at ${tag}'})`);
  await site.q(`CREATE (:User {name: 'both-new', age: ${pick(100)}, note: 'made at ${tag}'})`);
  for (let k = 0; k < 2; k++) await site.q(`MATCH (x:User {name: '${userKey(hot + pick(users - hot))}'}) DETACH DELETE x`);
  await site.q(`MATCH (a:User), (b:User) WHERE a.name STARTS WITH '${tag}-new-' AND b.name = '${userKey(pick(users))}'
    CREATE (a)-[:Follows {since: ${2000 + pick(30)}}]->(b)`);
  await site.q(`MATCH (a:User {name: 'both-new'}), (b:User {name: '${userKey(pick(hot))}'}) CREATE (a)-[:Follows {since: 1}]->(b)`);
  await site.q(`MATCH (:User {name: '${userKey(pick(hot))}'})-[f:Follows]->() SET f.since = ${3000 + pick(50)}`);
  await site.q(`MATCH (:User {name: '${userKey(pick(hot))}'})-[f:Follows]->() DELETE f`);
  await site.q(`MATCH (a:User {name: '${userKey(pick(hot))}'})-[f:Follows]->(b:User) CREATE (a)-[:Follows {since: f.since}]->(b)`);
  const mover = userKey(pick(users));
  await site.q(`MATCH (:User {name: '${mover}'})-[l:LivesIn]->(:City) DELETE l`);
  await site.q(`MATCH (a:User {name: '${mover}'}), (c:City {name: 'city-${pick(cities)}'}) CREATE (a)-[:LivesIn {since: 2024}]->(c)`);
  await site.q(`MATCH (c:City {name: 'city-${pick(cities)}'}) SET c.pop = c.pop + ${1 + pick(9)}`);
}

test('6. sync killed with SIGKILL at random moments converges to what an uninterrupted sync gives; no run left "running", no temp files', { timeout: 150_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const root = path.join(dir, 'root'); // the daemon's replicas (the hubs)
  fs.mkdirSync(root);
  const clientTmp = path.join(dir, 'tmp');
  fs.mkdirSync(clientTmp);
  useTmpdir(t, clientTmp); // every kuzusync of this test (killed or not) uses it
  const dbs = path.join(dir, 'dbs');
  fs.mkdirSync(dbs);
  const size = { users: 3000, cities: 30 };
  const baseFile = await baseDbFile(dbs, db => buildPeople(db, dbs, size));
  const { srv, args: remoteArgs } = await daemonFor(t, dir, root);
  const seed = Number(process.env.KILL_SEED ?? 20250923);
  const RUNS = Number(process.env.KILL_RUNS ?? 8);
  const rand = rng(seed);
  const policy = ['--policy', 'local-wins']; // deterministic: the reference run and the killed one decide alike
  t.diagnostic(`seed ${seed}, ${RUNS} runs, daemon remote`);

  const results = [];
  const problems = [];
  for (let i = 0; i < RUNS; i++) {
    const name = `hub${i}`;
    const hub = path.join(root, name);
    const spec = srv.url(name);
    const siteParent = path.join(dir, `site${i}`);
    fs.mkdirSync(siteParent);
    // The site and the hub start alike and sync once (full: the checkpoint).
    const site = await openSite(t, baseFile, path.join(dbs, `site${i}.db`), path.join(siteParent, 'site'));
    const hubDb = await openSite(t, baseFile, path.join(dbs, `hub${i}.db`), hub);
    const s0 = sync(site.dir, spec, [...policy, ...remoteArgs]).json;
    assert.equal(s0.mode, 'full');
    // Independent changes on both sides since that sync.
    await mutatePeople(site, rand, 'S', size);
    await site.export();
    await mutatePeople(hubDb, rand, 'H', size);
    await hubDb.export();
    await site.db.close();
    await hubDb.db.close();

    // Reference: the same inputs synced without a kill.
    const bk = path.join(dir, `bk${i}`);
    backup(site.dir, path.join(bk, 'site'));
    backup(hub, path.join(bk, 'hub'));
    const ref = sync(site.dir, spec, [...policy, ...remoteArgs]).json;
    assert.equal(ref.outcome, 'synced', JSON.stringify(ref));
    assert.equal(ref.mode, 'incremental', JSON.stringify(ref));
    assertSame(site.dir, hub, `run ${i}: reference sync`);
    const expected = copyDir(site.dir, path.join(bk, 'expected'));
    restore(site.dir, path.join(bk, 'site'));
    restore(hub, path.join(bk, 'hub'));
    const runsBefore = info('log', site.dir);

    // The killed run.
    const normalMs = ref.elapsed_ms;
    const delay = Math.floor(rand() * normalMs * 1.1);
    const proc = spawnKuzusync(['sync', site.dir, spec, '--json', ...policy, ...remoteArgs]);
    await sleep(delay);
    if (proc.child.exitCode === null) proc.child.kill('SIGKILL');
    const res = await proc.done;
    const wasKilled = res.signal === 'SIGKILL';
    if (!wasKilled && res.code !== 0) problems.push(`run ${i}: the run to be killed failed on its own\n${res.describe()}`);
    const logAfterKill = info('log', site.dir).slice(runsBefore.length);
    const hubAfterKill = ks(['diff', expected, hub]).status === 0;
    const siteAfterKill = ks(['diff', expected, site.dir]).status === 0;

    // Sync again (and once more if that run still moved rows).
    const reruns = [];
    for (let k = 0; k < 3; k++) {
      const r = ks(['sync', site.dir, spec, '--json', ...policy, ...remoteArgs]);
      if (r.status !== 0 || !r.json) {
        problems.push(`run ${i}: sync after the kill failed\n${describeRun(r)}`);
        break;
      }
      reruns.push(`${r.json.outcome}/${r.json.mode}/${r.json.rows_in}+${r.json.rows_out}`);
      if (r.json.outcome === 'in sync') break;
    }
    if (reruns.at(-1)?.startsWith('in sync') !== true) problems.push(`run ${i}: still not in sync after 3 runs: ${reruns}`);
    const same = ks(['diff', site.dir, hub, '--rows']);
    if (same.status !== 0) problems.push(`run ${i}: site and hub differ after the reruns\n${describeRun(same)}`);
    const lost = ks(['diff', expected, site.dir, '--rows']);
    if (lost.status !== 0) {
      problems.push(`run ${i} (kill after ${delay} ms; hub already merged: ${hubAfterKill}, site already merged: ${siteAfterKill}): ` +
        `the result is not what the uninterrupted sync gives (A = expected, B = after kill + rerun)\n${describeRun(lost)}`);
    }
    // The log: the killed run (if it got as far as being recorded) is interrupted, none is "running".
    const log = info('log', site.dir);
    const stillRunning = [...log, ...info('status', site.dir).last_runs].filter(r => r.outcome === 'running');
    if (stillRunning.length) problems.push(`run ${i}: runs still "running" after the rerun: ${JSON.stringify(stillRunning)}`);
    const killedRun = log.slice(runsBefore.length)[0];
    if (wasKilled && logAfterKill.length > 0) {
      if (!['interrupted', 'synced'].includes(logAfterKill[0].outcome) || killedRun?.outcome !== logAfterKill[0].outcome) {
        problems.push(`run ${i}: the killed run shows ${JSON.stringify(logAfterKill[0])} then ${JSON.stringify(killedRun)}`);
      }
    }
    // Nothing left behind.
    const tmpLeft = fs.readdirSync(clientTmp).filter(f => f.startsWith('kuzusync-'));
    if (tmpLeft.length) problems.push(`run ${i}: left in TMPDIR: ${tmpLeft.join(', ')}`);
    const siteStrays = strays(siteParent, ['site']);
    if (siteStrays.length) problems.push(`run ${i}: left beside the site: ${siteStrays.join(', ')}`);
    const hubStrays = fs.readdirSync(root).filter(f => f.startsWith(`.${name}.`) && !isReplicaState(f));
    if (hubStrays.length) problems.push(`run ${i}: left beside the hub: ${hubStrays.join(', ')}`);

    results.push({
      run: i, normal_ms: Math.round(normalMs), delay, killed: wasKilled, exit: res.code, ms: Math.round(res.ms),
      recorded: logAfterKill.map(r => r.outcome).join(',') || '-', hub_merged: hubAfterKill, site_merged: siteAfterKill,
      reruns: reruns.join(' '), conflicts: ref.conflicts.length, ref_rows: `${ref.rows_in}+${ref.rows_out}`,
    });
  }
  t.diagnostic(`kill runs:\n${results.map(r => JSON.stringify(r)).join('\n')}`);
  assert.deepEqual(problems, [], problems.join('\n\n'));
  const interrupted = results.filter(r => r.killed && r.recorded === 'interrupted').length;
  assert.ok(results.filter(r => r.killed).length >= Math.ceil(RUNS / 2), 'at least half the runs were killed while running');
  assert.ok(interrupted >= 2, `at least two killed runs were recorded and show "interrupted" (${interrupted})`);
  assert.ok(results.some(r => r.conflicts > 0), 'some runs met conflicts');
});

// ---------------------------------------------------------------- 6b

/**
 * Runs `sync args` and SIGKILLs it the moment `watched` (the remote replica
 * directory) is replaced: the remote has taken the push, the local export
 * not yet its bundle. Blocks the event loop while it polls (a stat every few
 * microseconds). Returns {res, hit} (hit: the directory was replaced).
 */
async function killWhenReplaced(args, watched, timeoutMs = 20_000) {
  const ino = fs.statSync(watched).ino;
  const proc = spawnKuzusync(args);
  const t0 = Date.now();
  let hit = false;
  while (Date.now() - t0 < timeoutMs) {
    let now;
    try { now = fs.statSync(watched).ino; } catch { continue; }
    if (now !== ino) {
      proc.child.kill('SIGKILL');
      hit = true;
      break;
    }
  }
  if (!hit) proc.child.kill('SIGKILL');
  return { res: await proc.done, hit };
}

test('6b. sync killed right after the remote took its push (path and daemon remote): the rerun must not merge both sides\' changes twice (counters, rel copies)', { timeout: 90_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const clientTmp = path.join(dir, 'tmp');
  fs.mkdirSync(clientTmp);
  useTmpdir(t, clientTmp);
  const baseFile = await baseDbFile(dir, buildProducts);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const daemon = await daemonFor(t, dir, root);
  const C = ['--merge-counters', 'Product.stock'];

  for (const transport of ['path', 'daemon']) {
    await t.test(`${transport} remote`, async () => {
      const sub = path.join(dir, transport);
      fs.mkdirSync(sub);
      const { A, B } = await sitesFrom(t, sub, baseFile, ['A', 'B']);
      const hub = copyDir(A.dir, path.join(transport === 'path' ? sub : root, `hub-${transport}`));
      const spec = transport === 'path' ? hub : daemon.srv.url(path.basename(hub));
      const extra = transport === 'path' ? C : [...C, ...daemon.args];
      sync(A.dir, spec, extra);
      sync(B.dir, spec, extra);
      // B: sells 3 of product 7, adds a second copy of the rel 3->4; B syncs first.
      await B.q(`MATCH (p:Product {id: 7}) SET p.stock = p.stock - 3`);
      await B.q(`MATCH (a:Product {id: 3})-[r:Bundles]->(b:Product {id: 4}) CREATE (a)-[:Bundles {qty: r.qty}]->(b)`);
      await B.export();
      sync(B.dir, spec, extra);
      // A: sells 5 of product 7, deletes the rel 3->4, renames product 9.
      await A.q(`MATCH (p:Product {id: 7}) SET p.stock = p.stock - 5`);
      await A.q(`MATCH (:Product {id: 3})-[r:Bundles]->(:Product {id: 4}) DELETE r`);
      await A.q(`MATCH (p:Product {id: 9}) SET p.name = 'nine'`);
      await A.export();

      // The uninterrupted run: stock 100 - 5 - 3 = 92; rel 3->4: base 1, A 0, B 2 -> 1 copy.
      const bk = path.join(dir, `bk-${transport}`);
      backup(A.dir, path.join(bk, 'A'));
      backup(hub, path.join(bk, 'hub'));
      const ref = sync(A.dir, spec, extra).json;
      assert.deepEqual(rowByKey(A.dir, 'Product.csv', 7), ['7', 'product 7', '92'], JSON.stringify(ref));
      const rel34 = d => rowsOf(d, 'Bundles_Product_Product.csv').filter(f => f[0] === '3' && f[1] === '4').length;
      assert.equal(rel34(A.dir), 1, 'base 1, A deleted it (0), B added a copy (2): one copy');
      assertSame(A.dir, hub, 'reference run');
      const expected = copyDir(A.dir, path.join(bk, 'expected'));

      // The same run, killed once the hub holds the merged rows and A does not yet.
      let attempt;
      let state;
      for (attempt = 1; attempt <= 8; attempt++) {
        restore(A.dir, path.join(bk, 'A'));
        restore(hub, path.join(bk, 'hub'));
        const { res, hit } = await killWhenReplaced(['sync', A.dir, spec, '--json', ...extra], hub);
        if (transport === 'daemon') await sleep(200); // the daemon finishes what it was doing
        state = {
          attempt, hit, signal: res.signal, exit: res.code, ms: Math.round(res.ms),
          hub_merged: ks(['diff', expected, hub]).status === 0,
          local_merged: ks(['diff', expected, A.dir]).status === 0,
        };
        t.diagnostic(`${transport}: kill: ${JSON.stringify(state)}`);
        if (res.signal === 'SIGKILL' && state.hub_merged && !state.local_merged) break;
      }
      assert.ok(attempt <= 8, `the kill landed between the push and the local apply in one of 8 attempts: ${JSON.stringify(state)}`);

      const again = sync(A.dir, spec, extra).json;
      t.diagnostic(`${transport}: rerun: ${JSON.stringify(again)}`);
      if (again.outcome === 'synced') sync(A.dir, spec, extra);
      assertSame(A.dir, hub, 'A and hub after the rerun');
      const stock = rowByKey(A.dir, 'Product.csv', 7)?.[2];
      const copies = rel34(A.dir);
      const diff = ks(['diff', expected, A.dir, '--rows']);
      assert.ok(stock === '92' && copies === 1 && diff.status === 0,
        `${transport}: after a kill between the push and the local apply, the rerun must give what the uninterrupted run gave: ` +
        `stock 92 (got ${stock}), one copy of Bundles 3->4 (got ${copies})\n${describeRun(diff)}`);
      const runs = info('log', A.dir);
      assert.ok(!runs.some(r => r.outcome === 'running'), JSON.stringify(runs));
      assert.deepEqual(fs.readdirSync(clientTmp), [], 'no temp files left in TMPDIR');
      assert.deepEqual(strays(sub, ['A', 'B', 'A.db', 'B.db', 'hub-path']).filter(f => !f.endsWith('.wal')), [],
        'nothing left beside the replicas but their state');
      assert.deepEqual(strays(root, ['hub-daemon']), [], 'nothing left beside the daemon\'s replica but its state');
    });
  }
});

// ---------------------------------------------------------------- 7

test('7. bad input: LOCAL not a directory, malformed CSV on either side, missing remote: exit 2 naming file and line, nothing changed', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const baseFile = await baseDbFile(dir, db => buildPeople(db, dir, { users: 100, cities: 5 }));
  const { A } = await sitesFrom(t, dir, baseFile, ['A']);
  const hub = copyDir(A.dir, path.join(dir, 'hub'));
  sync(A.dir, hub);
  const hashHub = dirHash(hub);

  await t.test('LOCAL is a file, or missing', () => {
    const file = path.join(dir, 'people_users.csv');
    const before = fs.readdirSync(dir).sort();
    for (const local of [file, path.join(dir, 'no-such-export')]) {
      const r = ks(['sync', local, hub, '--json']);
      assert.equal(r.status, 2, describeRun(r));
      assert.ok(r.stderr.includes(local), `the message names ${local}\n${describeRun(r)}`);
      assert.equal(r.stderr.trim().split('\n').length, 1, `one line on stderr\n${describeRun(r)}`);
    }
    assert.equal(dirHash(hub), hashHub, 'the remote is untouched');
    assert.deepEqual(fs.readdirSync(dir).sort(), before, 'nothing is created beside a LOCAL that is not an export');
  });

  await t.test('malformed CSV in LOCAL (unterminated quote, then a short row): names file and line, remote untouched', () => {
    const users = path.join(A.dir, 'User.csv');
    const good = fs.readFileSync(users, 'utf8');
    const lines = good.split('\n').filter(Boolean).length;
    try {
      for (const [bad, why] of [[`"user-bad,1,unterminated\n`, /unterminated|quote/i], [`user-short,1\n`, /field/i]]) {
        fs.writeFileSync(users, good + bad);
        const hashA = dirHash(A.dir);
        const r = ks(['sync', A.dir, hub, '--json']);
        assert.equal(r.status, 2, describeRun(r));
        assert.match(r.stderr, new RegExp(`User\\.csv:${lines + 1}\\b`), `names the file and line ${lines + 1}\n${describeRun(r)}`);
        assert.match(r.stderr, why, describeRun(r));
        assert.equal(dirHash(hub), hashHub, 'the remote is untouched');
        assert.equal(dirHash(A.dir), hashA, 'LOCAL is untouched');
        const last = info('log', A.dir).at(-1);
        assert.notEqual(last.outcome, 'running', JSON.stringify(last));
        assert.notEqual(last.outcome, 'synced', JSON.stringify(last));
      }
    } finally {
      fs.writeFileSync(users, good);
    }
  });

  await t.test('malformed CSV in the remote: names its file and line, LOCAL untouched', () => {
    const cities = path.join(hub, 'City.csv');
    const good = fs.readFileSync(cities, 'utf8');
    const lines = good.split('\n').filter(Boolean).length;
    try {
      fs.writeFileSync(cities, good + '"city-bad,12\n');
      const hashA = dirHash(A.dir);
      const hashH = dirHash(hub);
      const r = ks(['sync', A.dir, hub, '--json']);
      assert.equal(r.status, 2, describeRun(r));
      assert.match(r.stderr, new RegExp(`City\\.csv:${lines + 1}\\b`), describeRun(r));
      assert.equal(dirHash(A.dir), hashA, 'LOCAL is untouched');
      assert.equal(dirHash(hub), hashH, 'the remote is untouched');
    } finally {
      fs.writeFileSync(cities, good);
    }
  });

  await t.test('REMOTE is a missing path: exit 2 with a message (tried 10 times)', () => {
    const missing = path.join(dir, 'no-such-hub');
    const outcomes = [];
    for (let i = 0; i < 10; i++) {
      const r = ks(['sync', A.dir, missing, '--json']);
      outcomes.push(r.status === null ? `signal ${r.signal}` : `exit ${r.status}`);
      if (r.status !== 2) {
        assert.fail(`sync with a missing remote path must exit 2 with a message, got ${outcomes.at(-1)} on try ${i + 1} ` +
          `(${outcomes.join(', ')})\n${describeRun(r)}`);
      }
      assert.match(r.stderr, /no-such-hub/, describeRun(r));
    }
  });

  await t.test('nothing is created beside a missing remote', () => {
    ks(['sync', A.dir, path.join(dir, 'no-such-hub-2')]);
    const left = fs.readdirSync(dir).filter(f => f.includes('no-such-hub-2'));
    assert.deepEqual(left, [], 'a mistyped remote path leaves nothing behind');
  });

  // After all that, the pair still syncs.
  const ok = sync(A.dir, hub).json;
  assert.equal(ok.outcome, 'in sync', JSON.stringify(ok));
  assert.equal(dirHash(hub), hashHub);
});
