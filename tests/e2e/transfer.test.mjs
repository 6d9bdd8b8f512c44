// End-to-end tests of kuzusync push / pull / diff across transports: local
// paths, ssh (a real sshd on loopback), and the TLS daemon (kuzusync serve
// --listen), on exports of real Kuzu 0.11.3 databases (npm kuzu).
// Run: node --test --test-concurrency=1 tests/e2e/transfer.test.mjs
//
// Every test works in its own directory under os.tmpdir() and removes it;
// every server it starts is stopped in t.after(), and whatever is left is
// killed by the file's after() hook and on process exit (lib/servers.mjs).
// ssh tests need root and /usr/sbin/sshd (skipped otherwise).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { xxhash128 } from 'hash-wasm';
import fs from 'node:fs';
import path from 'node:path';
import {
  tempDir, copyDir, kuzusync, describeRun, binExists, openDb, isReplicaState, KUZUSYNC_BIN,
} from './lib/kuzu.mjs';
import { referenceDiff, referenceHash, tableDiffers } from './lib/reference.mjs';
import { assertDiffMatches, assertJsonShape } from './lib/assert-diff.mjs';
import { dirHash, spawnKuzusync } from './lib/bundle-helpers.mjs';
import { rng } from './lib/graphs.mjs';
import { stopAllServers, sleep } from './lib/servers.mjs';
import { makeTls, makeTokens, startDaemon, certInfo } from './lib/daemon.mjs';
import { startSshd, sshdUnavailable } from './lib/sshd.mjs';
import { peopleFixture, genFixture, tinyFixture, removeFixtures } from './lib/transfer-fixtures.mjs';

after(async () => {
  await stopAllServers();
  removeFixtures();
});

// ---------------------------------------------------------------- helpers

function requireBin() {
  assert.ok(binExists(), `kuzusync binary not found at ${KUZUSYNC_BIN} (build into build/ or set KUZUSYNC_BIN)`);
}

/** kuzusync with a timeout suited to network runs (a hang is a failure, not a stuck suite). */
const ks = (args, timeout = 60_000) => kuzusync(args, { timeout });

const counts = t => ({ only_in_a: t.only_in_a, only_in_b: t.only_in_b, changed: t.changed });
const sum = (ref, f) => Object.values(ref.tables).reduce((s, t) => s + f(t), 0);
const sumOnlyA = ref => sum(ref, t => t.only_in_a);
const sumOnlyB = ref => sum(ref, t => t.only_in_b);
/** Rows a push of A over B must at least send: node keys new or changed, rel rows A has more of. */
const minSent = ref => sum(ref, t => t.only_in_a + (t.kind === 'node' ? t.changed : 0));
const differing = ref => Object.fromEntries(Object.entries(ref.tables).filter(([, x]) => tableDiffers(x)).map(([n, x]) => [n, counts(x)]));

function isDeepEq(x, y) {
  try { assert.deepEqual(x, y); return true; } catch { return false; }
}

/** `hash DIR --json` tables, asserting success. */
function hashTables(dir) {
  const r = ks(['hash', dir, '--json']);
  assert.equal(r.status, 0, describeRun(r));
  assert.ok(r.json?.tables, describeRun(r));
  return r.json.tables;
}

/** Runs push/pull with --json; asserts exit 0 and the documented JSON shape. Returns the run. */
function transfer(cmd, src, dst, extra = []) {
  const r = ks([cmd, src, dst, '--json', ...extra]);
  assert.equal(r.status, 0, describeRun(r));
  const j = r.json;
  assert.ok(j, `${cmd} --json prints one JSON object (${r.jsonError ?? 'not JSON'})\n${describeRun(r)}`);
  for (const k of ['changed', 'dry_run']) assert.equal(typeof j[k], 'boolean', `${k}\n${describeRun(r)}`);
  for (const k of ['bytes_sent', 'bytes_received', 'round_trips', 'comparisons', 'rows_sent', 'rows_deleted', 'rows_kept', 'bundle_bytes', 'elapsed_ms']) {
    assert.ok(typeof j[k] === 'number' && j[k] >= 0, `${k} must be a non-negative number, got ${JSON.stringify(j[k])}\n${describeRun(r)}`);
  }
  assert.equal(j.dry_run, extra.includes('--dry-run'), `dry_run\n${describeRun(r)}`);
  return r;
}

/**
 * Asserts the export directories a and b hold the same rows: `diff --json`
 * exits 0 and agrees with the reference diff. `via` (optional) is a remote
 * spec for b plus connect args: then `diff a via` must exit 0 as well.
 */
function assertSame(a, b, label, via) {
  const ref = referenceDiff(a, b);
  const run = ks(['diff', a, b, '--json']);
  if (run.status !== 0 || !ref.identical) {
    const rows = ks(['diff', a, b, '--rows']);
    assert.fail(`${label}: replicas differ\nreference: ${JSON.stringify(differing(ref))}\n` +
      `reference keys: ${JSON.stringify(Object.fromEntries(Object.keys(differing(ref)).map(n => [n, ref.keys[n]]))).slice(0, 3000)}\n` +
      `${describeRun(run)}\n${describeRun(rows)}`);
  }
  assertDiffMatches(run, ref);
  if (via) {
    const r = ks(['diff', a, via.spec, '--json', ...via.args]);
    assert.equal(r.status, 0, `${label}: diff against the remote must exit 0\n${describeRun(r)}`);
    assertDiffMatches(r, ref);
  }
}

/**
 * After an additive push A -> B: B has every row of A (only_in_a 0 in every
 * table, node rows not changed) and kept what only it had (only_in_b as before).
 */
function assertAdditive(a, b, before, label) {
  const ref = referenceDiff(a, b);
  const problems = [];
  for (const [n, t] of Object.entries(ref.tables)) {
    if (t.only_in_a !== 0) problems.push(`${n}: ${t.only_in_a} rows of A missing from B`);
    if (t.kind === 'node' && t.changed !== 0) problems.push(`${n}: ${t.changed} rows differ from A's version`);
    const was = before.tables[n]?.only_in_b ?? 0;
    if (t.only_in_b !== was) problems.push(`${n}: only_in_b ${t.only_in_b}, was ${was} (rows only B had must be kept, nothing else added)`);
  }
  if (problems.length) {
    const rows = ks(['diff', a, b, '--rows']);
    assert.fail(`${label}:\n${problems.join('\n')}\nreference before: ${JSON.stringify(differing(before))}\n` +
      `reference after: ${JSON.stringify(differing(ref))}\n${describeRun(rows)}`);
  }
  // kuzusync's own diff agrees with the reference
  assertDiffMatches(ks(['diff', a, b, '--json']), ref);
  return ref;
}

/** Entries next to replicas in `parent` other than the replicas and their lock files. */
function strays(parent, replicas) {
  return fs.readdirSync(parent).filter(f => !replicas.includes(f) && !isReplicaState(f));
}


/** A daemon with TLS and tokens over `root`; stopped after the test. */
async function daemonFor(t, dir, root, { tls, cert, key, tokens } = {}) {
  tls ??= makeTls(path.join(dir, 'tls'));
  const tok = tokens ?? makeTokens(dir, { rw: 'rw', ro: 'ro *', other: 'rw other', bad: 'ro' });
  const srv = await startDaemon({
    root, cert: cert ?? tls.cert, key: key ?? tls.key, tokenFile: tok.file,
    logFile: path.join(dir, `daemon-${path.basename(cert ?? tls.cert)}-${Date.now()}.log`),
  });
  t.after(() => srv.stop());
  return { srv, tls, tok };
}

// ---------------------------------------------------------------- 1

test('1. local paths: additive push keeps B-only rows, --delete converges, --dry-run moves nothing, second push is a no-op', { timeout: 60_000 }, async t => {
  requireBin();
  const fx = await peopleFixture();
  const dir = tempDir(t);
  const a = fx.a;
  const b = copyDir(fx.b, path.join(dir, 'b'));
  const before = referenceDiff(a, b);
  t.diagnostic(`A vs B before: ${JSON.stringify(differing(before))}`);
  assert.ok(sumOnlyA(before) > 0 && sumOnlyB(before) > 0 && before.tables.User.changed > 0, 'fixture: A and B differ every way');

  // --dry-run, additive and with --delete: counts reported, nothing moved
  const h0 = dirHash(b);
  const dry = transfer('push', a, b, ['--dry-run']).json;
  assert.equal(dry.changed, true, JSON.stringify(dry));
  assert.ok(dry.rows_sent >= minSent(before), `dry-run rows_sent ${dry.rows_sent} >= ${minSent(before)}`);
  assert.equal(dry.rows_deleted, 0, 'dry-run without --delete deletes nothing');
  assert.equal(dry.rows_kept, sumOnlyB(before), 'dry-run rows_kept = rows only B has');
  assert.equal(dirHash(b), h0, 'push --dry-run must not touch B');
  const dryDel = transfer('push', a, b, ['--dry-run', '--delete']).json;
  assert.ok(dryDel.rows_deleted >= sumOnlyB(before), `dry-run --delete rows_deleted ${dryDel.rows_deleted} >= ${sumOnlyB(before)}`);
  assert.equal(dryDel.rows_kept, 0, 'nothing is kept with --delete');
  assert.equal(dirHash(b), h0, 'push --dry-run --delete must not touch B');

  // additive push
  const p1 = transfer('push', a, b).json;
  t.diagnostic(`additive push: ${JSON.stringify(p1)}`);
  assert.equal(p1.changed, true);
  assert.equal(p1.rows_sent, dry.rows_sent, 'the push sends what the dry run announced');
  assert.equal(p1.rows_kept, sumOnlyB(before), 'rows_kept = rows only B has');
  assert.equal(p1.rows_deleted, 0);
  assertAdditive(a, b, before, 'after push without --delete');

  // nothing left to send
  const h1 = dirHash(b);
  const p2 = transfer('push', a, b).json;
  assert.equal(p2.changed, false, `second additive push: ${JSON.stringify(p2)}`);
  assert.equal(p2.rows_sent, 0, JSON.stringify(p2));
  assert.equal(dirHash(b), h1, 'a no-op push must not touch B');

  // -q prints nothing
  const quiet = ks(['push', a, b, '-q']);
  assert.equal(quiet.status, 0, describeRun(quiet));
  assert.equal(quiet.stdout + quiet.stderr, '', `push -q prints nothing\n${describeRun(quiet)}`);

  // --delete converges
  const mid = referenceDiff(a, b);
  const p3 = transfer('push', a, b, ['--delete']).json;
  t.diagnostic(`push --delete: ${JSON.stringify(p3)}`);
  assert.equal(p3.changed, true);
  assert.ok(p3.rows_deleted >= sumOnlyB(mid), `rows_deleted ${p3.rows_deleted} >= ${sumOnlyB(mid)}`);
  assertSame(a, b, 'after push --delete');
  const h2 = dirHash(b);
  const p4 = transfer('push', a, b, ['--delete']).json;
  assert.equal(p4.changed, false, JSON.stringify(p4));
  assert.equal(p4.rows_sent + p4.rows_deleted, 0, JSON.stringify(p4));
  assert.equal(dirHash(b), h2, 'a no-op push --delete must not touch B');
  assert.deepEqual(strays(dir, ['b']), [], 'nothing left next to B but its lock file');

  // pull (local -> local) is the same operation
  const c = copyDir(fx.base, path.join(dir, 'c'));
  transfer('pull', a, c, ['--delete']);
  assertSame(a, c, 'after pull --delete');
});

// ---------------------------------------------------------------- 2

test('2. ssh on loopback (real sshd): push, pull, diff, --delete, remote to remote, errors', { timeout: 90_000 }, async t => {
  requireBin();
  const why = sshdUnavailable();
  if (why) { t.skip(why); return; }
  const fx = await peopleFixture();
  const dir = tempDir(t);
  const sshd = await startSshd(path.join(dir, 'sshd'));
  t.after(() => sshd.stop());
  const ssh = ['-e', sshd.rsh, '--remote-kuzusync', KUZUSYNC_BIN];
  const a = fx.a;
  const remoteDir = path.join(dir, 'remote');
  const rb = copyDir(fx.b, path.join(remoteDir, 'b'));
  const spec = `127.0.0.1:${rb}`;
  const before = referenceDiff(a, rb);

  await t.test('diff against the remote agrees with the reference', () => {
    const r = ks(['diff', a, spec, '--json', ...ssh]);
    assertDiffMatches(r, before);
    const rev = ks(['diff', spec, a, '--json', ...ssh]);
    assertDiffMatches(rev, referenceDiff(rb, a));
  });

  await t.test('push --dry-run over ssh moves nothing', () => {
    const h = dirHash(rb);
    const j = transfer('push', a, spec, ['--dry-run', ...ssh]).json;
    assert.equal(j.changed, true);
    assert.ok(j.rows_sent >= minSent(before), JSON.stringify(j));
    assert.equal(dirHash(rb), h);
  });

  await t.test('push (additive) to host:/abs/path', () => {
    const j = transfer('push', a, spec, ssh).json;
    t.diagnostic(`ssh push: ${JSON.stringify(j)}`);
    assert.equal(j.changed, true);
    assert.equal(j.rows_kept, sumOnlyB(before));
    assert.ok(j.bytes_sent > 0 && j.bytes_received > 0 && j.round_trips > 0, JSON.stringify(j));
    assertAdditive(a, rb, before, 'after ssh push');
  });

  await t.test('pull from the remote into a local replica', () => {
    const local = copyDir(fx.base, path.join(dir, 'local'));
    transfer('pull', spec, local, ['--delete', ...ssh]);
    assertSame(rb, local, 'after pull --delete from ssh', { spec, args: ssh });
  });

  await t.test('push --delete to ssh://root@127.0.0.1:PORT/path, then diff exits 0', () => {
    const url = `ssh://root@127.0.0.1:${sshd.port}${rb}`;
    const args = ['-e', sshd.rshNoPort, '--remote-kuzusync', KUZUSYNC_BIN];
    const j = transfer('push', a, url, ['--delete', ...args]).json;
    assert.equal(j.changed, true);
    assertSame(a, rb, 'after ssh push --delete', { spec: url, args });
    const again = transfer('push', a, url, ['--delete', ...args]).json;
    assert.equal(again.changed, false, JSON.stringify(again));
  });

  await t.test('remote to remote: push from one ssh path to another', () => {
    const other = copyDir(fx.base, path.join(remoteDir, 'other'));
    transfer('push', spec, `127.0.0.1:${other}`, ['--delete', ...ssh]);
    assertSame(rb, other, 'ssh -> ssh push --delete');
  });

  await t.test('errors: key not accepted, wrong --remote-kuzusync, missing path', () => {
    const h = dirHash(rb);
    const c = copyDir(fx.base, path.join(dir, 'src-for-errors'));
    const badKey = ks(['push', c, spec, '--delete', '-e', sshd.rshWith(sshd.otherKey), '--remote-kuzusync', KUZUSYNC_BIN], 30_000);
    assert.ok(badKey.status !== 0 && badKey.status !== null, `ssh auth failure must fail (not hang)\n${describeRun(badKey)}`);
    assert.match(badKey.stderr, /Permission denied/, `ssh's own error reaches the user\n${describeRun(badKey)}`);
    const badRemote = ks(['push', c, spec, '--delete', '-e', sshd.rsh, '--remote-kuzusync', '/nonexistent/kuzusync'], 30_000);
    assert.ok(badRemote.status !== 0 && badRemote.status !== null, describeRun(badRemote));
    assert.match(badRemote.stderr, /No such file|not found/, `the remote shell's error reaches the user\n${describeRun(badRemote)}`);
    const missing = ks(['diff', a, `127.0.0.1:${path.join(remoteDir, 'nope')}`, ...ssh], 30_000);
    assert.equal(missing.status, 2, describeRun(missing));
    assert.match(missing.stderr, /nope/, `names the missing path\n${describeRun(missing)}`);
    assert.equal(dirHash(rb), h, 'failed pushes leave the remote replica alone');
    t.diagnostic(`auth failure says: ${badKey.stderr.trim().replaceAll('\n', ' | ')}`);
    t.diagnostic(`wrong --remote-kuzusync says: ${badRemote.stderr.trim().replaceAll('\n', ' | ')}`);
  });
  // ssh: the user may create files there anyway; a lock file for the missing path is not checked
  assert.deepEqual(strays(remoteDir, ['b', 'other', 'nope']), [], 'nothing left next to the remote replicas but lock files');
});

// ---------------------------------------------------------------- 3

test('3. TLS daemon: push, pull, --delete, --dry-run, diff; tokens; certificate checks', { timeout: 90_000 }, async t => {
  requireBin();
  const fx = await peopleFixture();
  const dir = tempDir(t);
  const tls = makeTls(path.join(dir, 'tls'));
  const root = path.join(dir, 'root');
  const main = copyDir(fx.b, path.join(root, 'main'));
  copyDir(fx.base, path.join(root, 'other'));
  const { srv, tok } = await daemonFor(t, dir, root, { tls });
  const url = srv.url('main');
  const as = who => ['--ca-file', tls.ca, '--token-file', tok.tokens[who]];
  const a = fx.a;
  const before = referenceDiff(a, main);

  await t.test('diff against the remote agrees with the reference, and says what it moved', () => {
    const r = ks(['diff', a, url, '--json', ...as('ro')]);
    assertDiffMatches(r, before);
    for (const k of ['bytes_sent', 'bytes_received', 'round_trips']) {
      assert.ok(Number.isInteger(r.json.stats[k]) && r.json.stats[k] > 0, `stats.${k}\n${describeRun(r)}`);
    }
    // Differing tables were reconciled, not descended.
    assert.equal(r.json.stats.leaves_compared, 0, describeRun(r));
    assert.equal(ks(['diff', a, main, '--json']).json.stats.bytes_sent, undefined, 'two local paths move nothing');
  });

  await t.test('push --dry-run (with and without --delete) moves nothing', () => {
    const h = dirHash(main);
    const j = transfer('push', a, url, ['--dry-run', ...as('rw')]).json;
    assert.equal(j.changed, true);
    assert.ok(j.rows_sent >= minSent(before), JSON.stringify(j));
    assert.equal(j.rows_kept, sumOnlyB(before), JSON.stringify(j));
    const jd = transfer('push', a, url, ['--dry-run', '--delete', ...as('rw')]).json;
    assert.ok(jd.rows_deleted >= sumOnlyB(before), JSON.stringify(jd));
    assert.equal(dirHash(main), h, 'dry runs leave the replica alone');
  });

  await t.test('wrong token: refused, message mentions the token, replica unchanged', () => {
    const h = dirHash(main);
    fs.writeFileSync(path.join(dir, 'wrong.token'), 'not-a-token-of-ours-0123456789\n');
    const r = ks(['push', a, url, '--delete', '--ca-file', tls.ca, '--token-file', path.join(dir, 'wrong.token')], 30_000);
    assert.ok(r.status !== 0 && r.status !== null, describeRun(r));
    assert.match(r.stderr, /token/i, describeRun(r));
    const none = ks(['diff', a, url, '--ca-file', tls.ca], 30_000);
    assert.equal(none.status, 2, `no token at all\n${describeRun(none)}`);
    assert.match(none.stderr, /token/i, describeRun(none));
    const scoped = ks(['push', a, url, '--delete', ...as('other')], 30_000);
    assert.ok(scoped.status !== 0 && scoped.status !== null, `token for replica "other" only\n${describeRun(scoped)}`);
    assert.match(scoped.stderr, /token|replica/i, describeRun(scoped));
    assert.equal(dirHash(main), h, 'refused pushes leave the replica alone');
  });

  await t.test('read-only token: push refused; pull and diff work', () => {
    const h = dirHash(main);
    const r = ks(['push', a, url, '--delete', ...as('ro')], 30_000);
    assert.ok(r.status !== 0 && r.status !== null, describeRun(r));
    assert.match(r.stderr, /read-only|token/i, describeRun(r));
    assert.equal(dirHash(main), h, 'refused push leaves the replica alone');
    const local = copyDir(fx.base, path.join(dir, 'pulled-ro'));
    transfer('pull', url, local, ['--delete', ...as('ro')]);
    assertSame(main, local, 'pull --delete with a read-only token');
    const d = ks(['diff', url, a, '--json', ...as('ro')]);
    assertDiffMatches(d, referenceDiff(main, a));
  });

  await t.test('push (additive), then --delete; diff against the remote exits 0', () => {
    const j = transfer('push', a, url, as('rw')).json;
    t.diagnostic(`daemon push: ${JSON.stringify(j)}`);
    assert.equal(j.changed, true);
    assert.equal(j.rows_kept, sumOnlyB(before));
    assertAdditive(a, main, before, 'after daemon push');
    const jd = transfer('push', a, url, ['--delete', ...as('rw')]).json;
    assert.equal(jd.changed, true);
    assertSame(a, main, 'after daemon push --delete', { spec: url, args: as('ro') });
    const again = transfer('push', a, url, ['--delete', ...as('rw')]).json;
    assert.equal(again.changed, false, JSON.stringify(again));
  });

  await t.test('the daemon keeps the trees of what it wrote: the next push finds them, and ends right', async () => {
    // The tree cache beside the daemon's replica (sqlite3 CLI: an ordinary
    // database): entries that carry reconciliation elements, with their
    // recency (`used` grows on every hit).
    const db = path.join(root, '.main.kuzusync', 'state.db');
    // The daemon writes the cache after answering, at the lowest priority:
    // a reader may find it mid-transaction and waits, as kuzusync's own do.
    const query = sql => spawnSync('sqlite3', ['-cmd', '.timeout 10000', db, sql], { encoding: 'utf8' });
    const kept = () => {
      const r = query('SELECT key, used FROM trees WHERE elements IS NOT NULL');
      assert.equal(r.status, 0, r.stderr);
      return new Map(r.stdout.split('\n').filter(Boolean).map(line => line.split('|')));
    };
    const tables = Object.keys(hashTables(fx.base)).length;
    const earlier = kept();  // earlier versions' entries stay until they are the least recent
    const fresh = () => new Map([...kept()].filter(([key]) => !earlier.has(key)));
    assert.equal(transfer('push', fx.base, url, ['--delete', ...as('rw')]).json.changed, true);
    // The daemon caches the new version after answering: wait for it.
    let written = fresh();
    for (let i = 0; i < 100 && written.size < tables; i++) {
      await sleep(100);
      written = fresh();
    }
    assert.equal(written.size, tables, `one new entry with elements per table: ${JSON.stringify([...written])}`);
    // The tables the push reconciled keep the coded symbols it made, changed
    // with the rows it moved, for the next reconciliation.
    const symbols = query('SELECT key FROM symbols');
    assert.equal(symbols.status, 0, symbols.stderr);
    const withSymbols = symbols.stdout.split('\n').filter(key => written.has(key));
    assert.ok(withSymbols.length >= 1, `new entries with symbols: ${withSymbols.length} of ${written.size}`);
    await sleep(2100);  // files changed in the last 2 s are never looked up
    const j = transfer('push', a, url, ['--delete', ...as('rw')]).json;
    assert.equal(j.changed, true);
    const after = kept();
    for (const [key, used] of written) {
      assert.ok(Number(after.get(key)) > Number(used), `the push looked up ${key} (used ${used} -> ${after.get(key)})`);
    }
    assertSame(a, main, 'after a push onto cached trees', { spec: url, args: as('ro') });
  });

  await t.test('pull from the daemon; push from the daemon to another replica of it', () => {
    const local = copyDir(fx.b, path.join(dir, 'pulled'));
    const j = transfer('pull', url, local, as('rw')).json;
    assert.equal(j.changed, true);
    assertAdditive(main, local, referenceDiff(main, fx.b), 'after pull (additive)');
    transfer('pull', url, srv.url('other'), ['--delete', ...as('rw')]);
    assertSame(main, path.join(root, 'other'), 'daemon -> daemon pull --delete');
  });

  await t.test('replica names cannot leave --root; a missing replica is an error that leaves no trace', () => {
    const r = ks(['diff', a, srv.url('..'), ...as('rw')], 30_000);
    assert.equal(r.status, 2, describeRun(r));
    const before = fs.readdirSync(root).sort();
    const r2 = ks(['diff', a, srv.url('nope'), ...as('ro')], 30_000);
    assert.equal(r2.status, 2, describeRun(r2));
    assert.match(r2.stderr, /nope/, describeRun(r2));
    // a read-only client naming a replica that does not exist must not create files in --root
    assert.deepEqual(fs.readdirSync(root).sort(), before, `files created in --root by a read-only diff of a missing replica\n${describeRun(r2)}`);
  });

  await t.test('TLS: server certificate not trusted (no --ca-file, or another CA) is refused', async () => {
    const h = dirHash(main);
    const c = copyDir(fx.base, path.join(dir, 'src-tls'));
    const noCa = ks(['push', c, url, '--delete', '--token-file', tok.tokens.rw], 30_000);
    assert.ok(noCa.status !== 0 && noCa.status !== null, describeRun(noCa));
    assert.match(noCa.stderr, /TLS|certificate|issuer/i, describeRun(noCa));
    const rogue = await daemonFor(t, dir, root, { tls, cert: tls.rogueCert, key: tls.rogueKey, tokens: tok });
    const r = ks(['push', c, rogue.srv.url('main'), '--delete', ...as('rw')], 30_000);
    assert.ok(r.status !== 0 && r.status !== null, `cert from another CA\n${describeRun(r)}`);
    assert.match(r.stderr, /TLS|certificate|issuer/i, describeRun(r));
    assert.equal(dirHash(main), h, 'replica unchanged');
  });

  await t.test('TLS: expired certificate is refused', async () => {
    t.diagnostic(`expired cert: ${certInfo(tls.expiredCert).replaceAll('\n', '; ')}`);
    const h = dirHash(main);
    const c = copyDir(fx.base, path.join(dir, 'src-exp'));
    const d = await daemonFor(t, dir, root, { tls, cert: tls.expiredCert, key: tls.expiredKey, tokens: tok });
    const r = ks(['push', c, d.srv.url('main'), '--delete', ...as('rw')], 30_000);
    assert.ok(r.status !== 0 && r.status !== null, describeRun(r));
    assert.match(r.stderr, /expired/i, describeRun(r));
    assert.equal(dirHash(main), h, 'replica unchanged');
  });

  await t.test('TLS: certificate for another host name is refused', async () => {
    const h = dirHash(main);
    const c = copyDir(fx.base, path.join(dir, 'src-host'));
    const d = await daemonFor(t, dir, root, { tls, cert: tls.wrongHostCert, key: tls.wrongHostKey, tokens: tok });
    const r = ks(['push', c, d.srv.url('main'), '--delete', ...as('rw')], 30_000);
    assert.ok(r.status !== 0 && r.status !== null, describeRun(r));
    assert.match(r.stderr, /mismatch|host|name/i, describeRun(r));
    assert.equal(dirHash(main), h, 'replica unchanged');
  });

  await t.test('--insecure: plain TCP to a TLS daemon fails (no hang); refused for non-loopback hosts', () => {
    const r = ks(['diff', a, url, '--insecure', '--token-file', tok.tokens.ro], 20_000);
    assert.ok(r.status !== 0 && r.status !== null, `plain TCP against TLS must fail, not hang or succeed\n${describeRun(r)}`);
    const far = ks(['diff', a, 'kuzusync://192.0.2.1:7420/main', '--insecure', '--token-file', tok.tokens.ro], 20_000);
    assert.equal(far.status, 2, describeRun(far));
    assert.match(far.stderr, /loopback/i, describeRun(far));
  });

  // (a lock file for the missing replica 'nope' is reported by its own subtest)
  assert.deepEqual(strays(root, ['main', 'other', 'nope']), [], 'nothing left in --root but replicas and lock files');
  for (const line of srv.log().trim().split('\n').slice(-12)) t.diagnostic(`daemon log: ${line}`);
});

// ---------------------------------------------------------------- 4

test('4. client killed mid-push (daemon and ssh): replica is old or new, never mixed; push again completes', { timeout: 120_000 }, async t => {
  requireBin();
  const fx = await genFixture();
  const dir = tempDir(t);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const { srv, tls, tok } = await daemonFor(t, dir, root);
  const as = who => ['--ca-file', tls.ca, '--token-file', tok.tokens[who]];
  const a = fx.a;
  const oldH = referenceHash(fx.base).tables;
  const newH = referenceHash(a).tables;
  const oldK = hashTables(fx.base);
  const newK = hashTables(a);
  assert.ok(!isDeepEq(oldH, newH), 'fixture: A differs from B');
  const ref0 = referenceDiff(a, fx.base);
  t.diagnostic(`change set: ${JSON.stringify(differing(ref0))}`);
  assert.ok(sumOnlyA(ref0) + sumOnlyB(ref0) > 300, 'a large-ish change set');
  const clientTmp = path.join(dir, 'client-tmp');
  fs.mkdirSync(clientTmp);

  let sshd = null;
  if (!sshdUnavailable()) {
    sshd = await startSshd(path.join(dir, 'sshd'));
    t.after(() => sshd.stop());
  } else {
    t.diagnostic(`ssh runs skipped: ${sshdUnavailable()}`);
  }
  const transports = [{ name: 'daemon', spec: n => srv.url(n), args: as('rw'), runs: 6 }];
  if (sshd) {
    transports.push({ name: 'ssh', spec: n => `127.0.0.1:${path.join(root, n)}`, args: ['-e', sshd.rsh, '--remote-kuzusync', KUZUSYNC_BIN], runs: 3 });
  }

  const rand = rng(Number(process.env.KILL_SEED ?? 20250611));
  const problems = [];
  const runs = [];
  const replicas = [];
  for (const tr of transports) {
    // how long does a whole push take over this transport?
    const probeName = `probe-${tr.name}`;
    copyDir(fx.base, path.join(root, probeName));
    replicas.push(probeName);
    const probe = spawnKuzusync(['push', a, tr.spec(probeName), '--delete', '--json', ...tr.args], { TMPDIR: clientTmp });
    const pr = await probe.done;
    assert.equal(pr.code, 0, pr.describe());
    const N = Math.max(30, Math.ceil(pr.ms));
    t.diagnostic(`${tr.name}: a full push takes ${pr.ms.toFixed(0)} ms (${pr.stdout.trim()}); kill delays drawn from 0..${Math.ceil(N * 1.1)} ms`);

    for (let i = 0; i < tr.runs; i++) {
      const name = `${tr.name}-${i}`;
      const rep = copyDir(fx.base, path.join(root, name));
      replicas.push(name);
      // half spread over the whole push, half near its end (upload done, apply running)
      const delay = i % 2 === 0 ? Math.floor(rand() * N) : Math.floor(N * (0.6 + 0.5 * rand()));
      const proc = spawnKuzusync(['push', a, tr.spec(name), '--delete', ...tr.args], { TMPDIR: clientTmp });
      await sleep(delay);
      const killed = proc.child.exitCode === null && proc.child.kill('SIGKILL');
      const res = await proc.done;
      // a read session waits for the server's write session (shared vs exclusive lock) to end
      const sync = ks(['diff', a, srv.url(name), ...as('ro')], 60_000);
      if (sync.status !== 0 && sync.status !== 1) problems.push(`${name}: read session after the kill failed\n${describeRun(sync)}`);
      let state;
      try {
        const h = referenceHash(rep).tables;
        state = isDeepEq(h, oldH) ? 'old' : isDeepEq(h, newH) ? 'new' : 'MIXED';
      } catch (e) {
        state = `unreadable (${e.message.split('\n')[0]})`;
      }
      const kh = ks(['hash', rep, '--json']);
      const kstate = kh.status !== 0 ? `hash exit ${kh.status}` : isDeepEq(kh.json.tables, oldK) ? 'old' : isDeepEq(kh.json.tables, newK) ? 'new' : 'MIXED';
      const left = strays(root, replicas);
      runs.push({ name, delay, killed, exit: res.code, signal: res.signal, ms: Math.round(res.ms), state, kstate, left });
      if (state !== 'old' && state !== 'new') {
        const ref = referenceDiff(a, rep);
        problems.push(`${name} (kill after ${delay} ms): replica is ${state} (kuzusync hash: ${kstate}); vs A: ${JSON.stringify(differing(ref))}`);
      } else if (kstate !== state) {
        problems.push(`${name}: reference says ${state}, kuzusync hash says ${kstate}\n${describeRun(kh)}`);
      }
      if (left.length) problems.push(`${name}: left in --root after the session ended: ${left.join(', ')}`);
      // push again completes
      const again = ks(['push', a, tr.spec(name), '--delete', '--json', ...tr.args]);
      if (again.status !== 0) {
        problems.push(`${name}: push again failed\n${describeRun(again)}`);
        continue;
      }
      const d = ks(['diff', a, rep]);
      if (d.status !== 0) problems.push(`${name}: diff after the second push exits ${d.status}\n${describeRun(d)}`);
      if (!isDeepEq(referenceHash(rep).tables, newH)) {
        problems.push(`${name}: reference diff after the second push: ${JSON.stringify(differing(referenceDiff(a, rep)))}`);
      }
    }
  }
  t.diagnostic(`kill runs: ${JSON.stringify(runs)}`);
  const interrupted = runs.filter(r => r.signal === 'SIGKILL');
  t.diagnostic(`${interrupted.length} pushes killed; states: ${JSON.stringify(interrupted.map(r => r.state))}`);
  const tmpLeft = fs.readdirSync(clientTmp);
  if (tmpLeft.length) t.diagnostic(`killed clients left in TMPDIR: ${tmpLeft.join(', ')}`);
  assert.ok(interrupted.length >= 3, 'at least three pushes were killed while running');
  assert.equal(problems.length, 0, problems.join('\n\n'));
});

// ---------------------------------------------------------------- 5

test('5. concurrent pushes to one replica (two over the daemon, one local): all succeed, no row lost', { timeout: 120_000 }, async t => {
  requireBin();
  const fx = await genFixture();
  const dir = tempDir(t);
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const { srv, tls, tok } = await daemonFor(t, dir, root);
  const as = who => ['--ca-file', tls.ca, '--token-file', tok.tokens[who]];
  const sources = [fx.a1, fx.a2, fx.a3];
  // rows each source adds to the base (disjoint by construction)
  const adds = sources.map(s => referenceDiff(s, fx.base));
  for (const [i, r] of adds.entries()) {
    assert.ok(sumOnlyA(r) > 0 && sumOnlyB(r) === 0 && sum(r, x => x.changed) === 0, `fixture a${i + 1} only adds rows: ${JSON.stringify(differing(r))}`);
  }
  const problems = [];
  for (let round = 0; round < 2; round++) {
    const name = `conc-${round}`;
    const rep = copyDir(fx.base, path.join(root, name));
    const order = round === 0 ? [0, 1, 2] : [2, 1, 0];
    const procs = order.map(k => {
      const dst = k === 2 ? rep : srv.url(name); // a3 pushes to the directory itself, the others via the daemon
      return { k, p: spawnKuzusync(['push', sources[k], dst, '--json', ...(k === 2 ? [] : as('rw'))]) };
    });
    // a reader at the same time sees some consistent state
    const reader = spawnKuzusync(['diff', fx.base, srv.url(name), '--json', ...as('ro')]);
    const results = await Promise.all(procs.map(async ({ k, p }) => ({ k, r: await p.done })));
    const rr = await reader.done;
    if (rr.code !== 0 && rr.code !== 1) problems.push(`round ${round}: concurrent reader failed\n${rr.describe()}`);
    const stats = [];
    for (const { k, r } of results) {
      if (r.code !== 0) { problems.push(`round ${round}: push a${k + 1} failed\n${r.describe()}`); continue; }
      let j;
      try { j = JSON.parse(r.stdout); } catch { problems.push(`round ${round}: a${k + 1}: stdout not JSON\n${r.describe()}`); continue; }
      stats.push({ src: `a${k + 1}`, ms: Math.round(r.ms), changed: j.changed, sent: j.rows_sent, kept: j.rows_kept });
    }
    t.diagnostic(`round ${round}: ${JSON.stringify(stats)}`);
    if (stats.length === 3 && Math.max(...stats.map(s => s.kept)) === 0) {
      problems.push(`round ${round}: no push saw another's rows (rows_kept all 0): were they serialized? ${JSON.stringify(stats)}`);
    }
    const h = ks(['hash', rep, '--json']);
    if (h.status !== 0) { problems.push(`round ${round}: hash of the replica failed\n${describeRun(h)}`); continue; }
    // every row of every source is there, and nothing else changed
    for (const [k, s] of sources.entries()) {
      const ref = referenceDiff(s, rep);
      const bad = Object.entries(ref.tables).filter(([, x]) => x.only_in_a || (x.kind === 'node' && x.changed));
      if (bad.length) problems.push(`round ${round}: rows of a${k + 1} missing or changed in the replica: ${JSON.stringify(Object.fromEntries(bad.map(([n, x]) => [n, counts(x)])))}`);
    }
    const vsBase = referenceDiff(rep, fx.base);
    for (const [n, x] of Object.entries(vsBase.tables)) {
      const want = adds.reduce((s, r) => s + (r.tables[n]?.only_in_a ?? 0), 0);
      if (x.only_in_a !== want || x.only_in_b !== 0 || x.changed !== 0) {
        problems.push(`round ${round}: ${n} vs base: ${JSON.stringify(counts(x))}, want only_in_a ${want}, only_in_b 0, changed 0`);
      }
    }
    const kd = ks(['diff', rep, fx.base, '--json']);
    try { assertDiffMatches(kd, vsBase); } catch (e) { problems.push(`round ${round}: kuzusync diff disagrees with the reference\n${e.message}`); }
    const left = strays(root, [name, 'conc-0', 'conc-1']);
    if (left.length) problems.push(`round ${round}: left in --root: ${left.join(', ')}`);
  }
  assert.equal(problems.length, 0, problems.join('\n\n'));
});

// ---------------------------------------------------------------- 6

test('6. real Kuzu (tinysnb, every type): push --delete over each transport, diff exits 0, Kuzu can IMPORT the result', { timeout: 120_000 }, async t => {
  requireBin();
  const fx = await tinyFixture();
  const dir = tempDir(t);
  const a = fx.a;
  const root = path.join(dir, 'root');
  fs.mkdirSync(root);
  const { srv, tls, tok } = await daemonFor(t, dir, root);
  const transports = [
    { name: 'local', spec: p => p, args: [] },
    { name: 'daemon', spec: (p, n) => srv.url(n), args: ['--ca-file', tls.ca, '--token-file', tok.tokens.rw] },
  ];
  if (!sshdUnavailable()) {
    const sshd = await startSshd(path.join(dir, 'sshd'));
    t.after(() => sshd.stop());
    transports.push({ name: 'ssh', spec: p => `127.0.0.1:${p}`, args: ['-e', sshd.rsh, '--remote-kuzusync', KUZUSYNC_BIN] });
  }

  // What Kuzu makes of A itself (CSV is lossy in Kuzu: compare import(A) with import(B')).
  const importAndReexport = async (src, tag) => {
    const db = await openDb(path.join(dir, `imported-${tag}`));
    try {
      await db.q(`IMPORT DATABASE '${src}'`);
      return await db.exportCsv(path.join(dir, `reexport-${tag}`));
    } finally {
      await db.close();
    }
  };
  const reA = await importAndReexport(a, 'source');

  for (const tr of transports) {
    await t.test(`over ${tr.name}`, async () => {
      const name = `tiny-${tr.name}`;
      const rep = copyDir(fx.base, path.join(root, name));
      const before = referenceDiff(a, rep);
      assert.ok(!before.identical);
      const j = transfer('push', a, tr.spec(rep, name), ['--delete', ...tr.args]).json;
      assert.equal(j.changed, true);
      assertSame(a, rep, `tinysnb push --delete over ${tr.name}`);
      const d = ks(['diff', a, tr.spec(rep, name), ...tr.args]);
      assert.equal(d.status, 0, describeRun(d));
      // IMPORT-equivalent check: Kuzu must load the replica like it loads A
      let reB;
      try {
        reB = await importAndReexport(rep, name);
      } catch (e) {
        const copyA = fs.readFileSync(path.join(a, 'copy.cypher'), 'utf8');
        const copyB = fs.readFileSync(path.join(rep, 'copy.cypher'), 'utf8');
        assert.fail(`Kuzu cannot IMPORT DATABASE the replica after push over ${tr.name}: ${e.message.split('\n')[0]}\n` +
          `--- A/copy.cypher\n${copyA}--- replica/copy.cypher\n${copyB}`);
      }
      const r = ks(['diff', reA, reB, '--json']);
      assert.equal(r.status, 0, `re-exports of import(A) and import(replica) differ\n${describeRun(r)}`);
      assertDiffMatches(r, referenceDiff(reA, reB));
    });
  }
});

// ---------------------------------------------------------------- 7

/** kuzusync's canonical text of a row (docs/hashing.md), for fields that need no quotes. */
function canonicalText(fields) {
  return fields.join(',');
}

test('7. a change set reconciliation cannot see (old and new row share an element): push over the daemon still converges', { timeout: 90_000 }, async t => {
  requireBin();
  // Node elements keep 24 bits of the row print; two names whose rows agree
  // there (a birthday search) make an update invisible to the sketch. The
  // push must notice and compare trees instead, not leave the change out.
  // The row print is the low 64 bits of the XXH3-128 of the row's canonical
  // text (docs/hashing.md; node rows hash with seed 0); hash-wasm gives the
  // canonical big-endian hex, low half last.
  const seen = new Map();
  let nameA, nameB;
  for (let i = 0; !nameB; ++i) {
    const name = `n${i}`;
    const low = (await xxhash128(canonicalText(['1', name, '30']))).slice(-6);
    if (seen.has(low)) [nameA, nameB] = [seen.get(low), name];
    else seen.set(low, name);
  }
  const dir = tempDir(t);
  const db = await openDb(path.join(dir, 'db'));
  let a, b;
  try {
    await db.q('CREATE NODE TABLE User(id INT64, name STRING, age INT64, PRIMARY KEY(id))');
    await db.q(`CREATE (:User {id: 1, name: '${nameB}', age: 30})`);
    for (let i = 2; i <= 300; ++i) await db.q(`CREATE (:User {id: ${i}, name: 'user${i}', age: ${i % 80}})`);
    b = await db.exportCsv(path.join(dir, 'b'));
    await db.q(`MATCH (u:User {id: 1}) SET u.name = '${nameA}'`);
    await db.q('MATCH (u:User {id: 300}) DELETE u');
    await db.q("CREATE (:User {id: 301, name: 'new', age: 1})");
    a = await db.exportCsv(path.join(dir, 'a'));
  } finally {
    await db.close();
  }
  const root = path.join(dir, 'root');
  const rep = copyDir(b, path.join(root, 'main'));
  const { srv, tls, tok } = await daemonFor(t, dir, root);
  const before = referenceDiff(a, rep);
  assert.equal(before.tables.User.changed, 1, JSON.stringify(before.tables.User));
  // The sketch misses the change only if kuzusync's row prints are the
  // XXH3-128 of the canonical text computed above: then a diff against the
  // daemon cannot settle the table by reconciliation and descends it.
  const d = ks(['diff', a, srv.url('main'), '--json', '--ca-file', tls.ca, '--token-file', tok.tokens.ro]);
  assertDiffMatches(d, before);
  assert.ok(d.json.stats.leaves_compared > 0, describeRun(d));
  const args = ['--delete', '--ca-file', tls.ca, '--token-file', tok.tokens.rw];
  const j = transfer('push', a, srv.url('main'), args).json;
  assert.equal(j.changed, true);
  assertSame(a, rep, 'push --delete of a change the sketch cannot see');

  // The other way: the daemon has A, a local B pulls it.
  copyDir(a, path.join(root, 'source'));
  const local = copyDir(b, path.join(dir, 'local'));
  const p = transfer('pull', srv.url('source'), local, args).json;
  assert.equal(p.changed, true);
  assertSame(a, local, 'pull --delete of a change the sketch cannot see');
});
