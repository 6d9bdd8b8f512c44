// End-to-end tests of kuzusync bundle / inspect / apply / snapshot against
// exports made by the real Kuzu engine (npm kuzu 0.11.3).
// Run: node --test --test-concurrency=1 tests/e2e/bundle.test.mjs
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tempDir, newDb, loadTinysnb, copyDir, kuzusync, describeRun, binExists, isReplicaState, KUZUSYNC_BIN,
} from './lib/kuzu.mjs';
import { referenceDiff, tableDiffers } from './lib/reference.mjs';
import { assertDiffMatches } from './lib/assert-diff.mjs';
import { buildGenerated, rng } from './lib/graphs.mjs';
import {
  twinDbs, dirHash, tarList, runApplyCypher, describeCypherErrors, spawnKuzusync, sleep,
  flipByte, truncateFile, mutateTinysnb, mutateGenerated,
} from './lib/bundle-helpers.mjs';

function requireBin() {
  assert.ok(binExists(), `kuzusync binary not found at ${KUZUSYNC_BIN} (build into build/ or set KUZUSYNC_BIN)`);
}

const counts = t => ({ only_in_a: t.only_in_a, only_in_b: t.only_in_b, changed: t.changed });

/** `hash DIR --json` tables, asserting success. */
function hashTables(dir) {
  const r = kuzusync(['hash', dir, '--json']);
  assert.equal(r.status, 0, describeRun(r));
  assert.ok(r.json?.tables, describeRun(r));
  return r.json.tables;
}

/** Runs `bundle A B -o out [...extra]` and asserts success. */
function makeBundle(a, b, out, extra = []) {
  const r = kuzusync(['bundle', a, b, '-o', out, ...extra]);
  assert.equal(r.status, 0, describeRun(r));
  assert.ok(fs.existsSync(out), `bundle file written\n${describeRun(r)}`);
  return r;
}

/** Asserts `diff A B` exits 0, agreeing with the reference; on failure shows `diff --rows`. */
function assertSame(a, b, label) {
  const run = kuzusync(['diff', a, b, '--json']);
  const ref = referenceDiff(a, b);
  if (run.status !== 0 || !ref.identical) {
    const rows = kuzusync(['diff', a, b, '--rows']);
    const differing = Object.fromEntries(Object.entries(ref.tables).filter(([, t]) => tableDiffers(t)).map(([n, t]) => [n, counts(t)]));
    assert.fail(`${label}: replicas differ after apply\nreference: ${JSON.stringify(differing)}\n` +
      `reference keys: ${JSON.stringify(Object.fromEntries(Object.keys(differing).map(n => [n, ref.keys[n]])))}\n` +
      `${describeRun(run)}\n${describeRun(rows)}`);
  }
  assertDiffMatches(run, ref);
}

/**
 * Checks `inspect --json` of a bundle of A over B against the reference diff.
 * Table rows/root must be those of `result` (the replica after apply: A, or
 * B' for an additive bundle).
 */
function checkInspect(t, bundle, a, b, { deletes = 'yes', result = a } = {}) {
  const r = kuzusync(['inspect', bundle, '--json']);
  assert.equal(r.status, 0, describeRun(r));
  const m = r.json;
  assert.ok(m, `inspect --json prints one JSON object\n${describeRun(r)}`);
  assert.equal(m.kind, 'bundle', describeRun(r));
  assert.equal(m.deletes, deletes, describeRun(r));
  assert.match(m.base_root, /^[0-9a-f]{16,}$/, describeRun(r));
  assert.match(m.result_root, /^[0-9a-f]{16,}$/, describeRun(r));
  assert.notEqual(m.base_root, m.result_root, describeRun(r));
  const members = tarList(bundle);
  assert.ok(m.members === members.length - 1 || m.members === members.length, `members ${m.members} vs tar listing ${members.length}\n${describeRun(r)}`);
  assert.ok(Number.isInteger(m.bytes) && m.bytes > 0, describeRun(r));
  const ha = hashTables(result);
  const ref = referenceDiff(a, b);
  for (const [n, rt] of Object.entries(ref.tables)) {
    const mt = m.tables[n];
    assert.ok(mt, `inspect lists table ${n}\n${describeRun(r)}`);
    assert.equal(mt.kind, rt.kind, `${n}.kind`);
    assert.equal(mt.rows, ha[n].rows, `${n}.rows = rows after apply`);
    assert.equal(mt.root, ha[n].root, `${n}.root = root after apply`);
    if (rt.kind === 'node') {
      assert.equal(mt.upserts, rt.only_in_a + rt.changed, `${n}.upserts\n${describeRun(r)}`);
      assert.equal(mt.deletes, deletes === 'yes' ? rt.only_in_b : 0, `${n}.deletes\n${describeRun(r)}`);
    } else {
      // whole (from,to) pairs are replaced: at least the differing rows
      assert.ok(mt.upserts >= rt.only_in_a, `${n}.upserts ${mt.upserts} >= only_in_a ${rt.only_in_a}\n${describeRun(r)}`);
      if (deletes === 'yes') assert.ok(mt.deletes >= rt.only_in_b, `${n}.deletes ${mt.deletes} >= only_in_b ${rt.only_in_b}\n${describeRun(r)}`);
      else assert.equal(mt.deletes, 0, `${n}.deletes with --no-delete\n${describeRun(r)}`);
    }
  }
  const human = kuzusync(['inspect', bundle]);
  assert.equal(human.status, 0, describeRun(human));
  return m;
}

/**
 * The two flows of a bundle A -> B:
 *  (a) apply to a copy of B's export directory, then diff A B' exits 0;
 *  (b) apply --cypher OUT, run OUT/apply.cypher in the live B database,
 *      re-export it, then diff A B-reexport exits 0.
 */
async function bothFlows(t, { dir, a, b, dbB }) {
  const bundle = path.join(dir, 'a-to-b.kzb');
  const mk = makeBundle(a, b, bundle);
  t.diagnostic(`bundle: ${mk.stderr.trim()} (${fs.statSync(bundle).size} bytes)`);
  const members = tarList(bundle);
  assert.equal(members[0], 'MANIFEST', `first tar member: ${members.join(', ')}`);
  checkInspect(t, bundle, a, b);
  const verify = kuzusync(['snapshot', 'verify', bundle]);
  assert.equal(verify.status, 0, `snapshot verify of a bundle\n${describeRun(verify)}`);

  await t.test('(a) apply to export dir', () => {
    const b1 = copyDir(b, path.join(dir, 'b-applied'));
    const t0 = Date.now();
    const r = kuzusync(['apply', bundle, b1]);
    t.diagnostic(`apply: ${Date.now() - t0} ms`);
    assert.equal(r.status, 0, describeRun(r));
    assertSame(a, b1, 'apply to export dir');
    assert.deepEqual(hashTables(b1), hashTables(a), 'hash tables of B\' = A');
    // re-applying: exit 0, nothing to do, nothing touched
    const before = dirHash(b1);
    const again = kuzusync(['apply', bundle, b1]);
    assert.equal(again.status, 0, describeRun(again));
    assert.equal(dirHash(b1), before, `re-apply must not touch B'\n${describeRun(again)}`);
    t.diagnostic(`re-apply says: ${again.stderr.trim() || again.stdout.trim()}`);
  });

  await t.test('(b) apply --cypher in the live B database', async () => {
    const out = path.join(dir, 'cypher-out');
    const r = kuzusync(['apply', bundle, '--cypher', out]);
    assert.equal(r.status, 0, describeRun(r));
    assert.ok(fs.existsSync(path.join(out, 'apply.cypher')), describeRun(r));
    // OUT must not exist
    const again = kuzusync(['apply', bundle, '--cypher', out]);
    assert.notEqual(again.status, 0, `--cypher into an existing dir must fail\n${describeRun(again)}`);
    const { statements, errors } = await runApplyCypher(dbB, out);
    t.diagnostic(`apply.cypher: ${statements.length} statements, ${errors.length} failed`);
    const re = await dbB.exportCsv(path.join(dir, 'b-reexport'));
    const diff = kuzusync(['diff', a, re, '--json']);
    const ref = referenceDiff(a, re);
    if (errors.length || diff.status !== 0 || !ref.identical) {
      const rows = kuzusync(['diff', a, re, '--rows']);
      const differing = Object.fromEntries(Object.entries(ref.tables).filter(([, x]) => tableDiffers(x)).map(([n, x]) => [n, counts(x)]));
      assert.fail(`apply --cypher flow: ${errors.length} statement(s) failed in Kuzu\n${describeCypherErrors(errors, out)}\n\n` +
        `diff A B-reexport: exit ${diff.status}; reference: ${JSON.stringify(differing)}\n` +
        `reference keys: ${JSON.stringify(Object.fromEntries(Object.keys(differing).map(n => [n, ref.keys[n]]))).slice(0, 4000)}\n` +
        `${describeRun(rows)}`);
    }
    assertDiffMatches(diff, ref);
  });
}

// ---------------------------------------------------------------- 1
test('1. tinysnb: bundle -> apply (export dir) and apply --cypher (live Kuzu)', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const [dbA, dbB] = await twinDbs(t, dir, db => loadTinysnb(db));
  await mutateTinysnb(dbA);
  const a = await dbA.exportCsv(path.join(dir, 'a'));
  const b = await dbB.exportCsv(path.join(dir, 'b'));
  const ref = referenceDiff(a, b);
  for (const n of ['person', 'organisation', 'movies', 'knows', 'marries', 'meets', 'studyAt', 'workAt']) {
    assert.ok(tableDiffers(ref.tables[n]), `mutations change ${n}`);
  }
  await bothFlows(t, { dir, a, b, dbB });
});

// ---------------------------------------------------------------- 2
test('2. generated graph (>= 100k rows): bundle -> apply and apply --cypher', { timeout: 90_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const [dbA, dbB, total] = await twinDbs(t, dir, (db, d) => buildGenerated(db, d));
  assert.ok(total >= 100_000, `${total} rows`);
  await mutateGenerated(dbA);
  const a = await dbA.exportCsv(path.join(dir, 'a'));
  const b = await dbB.exportCsv(path.join(dir, 'b'));
  const ref = referenceDiff(a, b);
  t.diagnostic(`A vs B: ${JSON.stringify(Object.fromEntries(Object.entries(ref.tables).map(([n, x]) => [n, counts(x)])))}`);
  for (const n of ['User', 'City', 'Follows']) assert.ok(tableDiffers(ref.tables[n]), `mutations change ${n}`);
  await bothFlows(t, { dir, a, b, dbB });
});

// ---------------------------------------------------------------- 3
test('3. --no-delete: additive only', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await loadTinysnb(db);
  const b = await db.exportCsv(path.join(dir, 'b'));
  await mutateTinysnb(db);
  const a = await db.exportCsv(path.join(dir, 'a'));
  const before = referenceDiff(a, b);
  const bundle = path.join(dir, 'add.kzb');
  makeBundle(a, b, bundle, ['--no-delete']);

  const b1 = copyDir(b, path.join(dir, 'b1'));
  const r = kuzusync(['apply', bundle, b1]);
  assert.equal(r.status, 0, describeRun(r));
  checkInspect(t, bundle, a, b, { deletes: 'no', result: b1 });
  const run = kuzusync(['diff', a, b1, '--json']);
  const after = referenceDiff(a, b1);
  assertDiffMatches(run, after);
  const problems = [];
  for (const [n, bt] of Object.entries(before.tables)) {
    const at = after.tables[n];
    if (at.only_in_a !== 0) problems.push(`${n}: only_in_a = ${at.only_in_a} (A's rows missing after apply): ${JSON.stringify(after.keys[n].only_in_a)}`);
    if (at.changed !== 0) problems.push(`${n}: changed = ${at.changed} (A's version must win): ${JSON.stringify(after.keys[n].changed)}`);
    // exactly B's extra rows remain: nothing deleted, nothing duplicated
    const sortK = x => x.map(k => JSON.stringify(k)).sort();
    if (at.only_in_b !== bt.only_in_b) {
      problems.push(`${n}: only_in_b = ${at.only_in_b}, expected ${bt.only_in_b} (B's rows that A lacks, kept; no extra copies)\n` +
        `   before: ${JSON.stringify(sortK(before.keys[n].only_in_b))}\n   after:  ${JSON.stringify(sortK(after.keys[n].only_in_b))}`);
    }
  }
  // where A deleted rows, B keeps them
  for (const n of ['person', 'knows', 'meets', 'workAt']) {
    if (!(after.tables[n].only_in_b > 0)) problems.push(`${n}: only_in_b must be > 0 (B's rows kept)`);
  }
  const rows = problems.length ? describeRun(kuzusync(['diff', a, b1, '--rows'])) : '';
  assert.equal(problems.length, 0, problems.join('\n') + '\n' + rows);

  // the Cypher form of an additive bundle deletes nothing
  const out = path.join(dir, 'cy');
  const cy = kuzusync(['apply', bundle, '--cypher', out]);
  assert.equal(cy.status, 0, describeRun(cy));
  const code = fs.readFileSync(path.join(out, 'apply.cypher'), 'utf8').split('\n').filter(l => !l.startsWith('//')).join('\n');
  assert.doesNotMatch(code, /\bDELETE\b/i, `additive apply.cypher must not delete:\n${code}`);
});

// ---------------------------------------------------------------- 4
test('4. apply refuses when B changed since the bundle was made; --force applies', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const [dbA, dbB] = await twinDbs(t, dir, db => loadTinysnb(db));
  await mutateTinysnb(dbA);
  const a = await dbA.exportCsv(path.join(dir, 'a'));
  const b = await dbB.exportCsv(path.join(dir, 'b'));
  const bundle = path.join(dir, 'd.kzb');
  makeBundle(a, b, bundle);
  // B moves on: a fresh export of the mutated B database (person 3 is not in the bundle)
  await dbB.q('MATCH (p:person) WHERE p.ID = 3 SET p.age = 46');
  const b2 = await dbB.exportCsv(path.join(dir, 'b2'));
  const h0 = dirHash(b2);
  const listing0 = fs.readdirSync(dir).filter(f => !isReplicaState(f)).sort();
  const r = kuzusync(['apply', bundle, b2]);
  assert.equal(r.status, 2, describeRun(r));
  assert.match(r.stderr, /changed since the bundle was made/, describeRun(r));
  assert.equal(dirHash(b2), h0, 'B untouched after the refusal');
  assert.deepEqual(fs.readdirSync(dir).filter(f => !isReplicaState(f)).sort(), listing0, 'no stray files next to B');

  const f = kuzusync(['apply', bundle, b2, '--force']);
  assert.equal(f.status, 0, describeRun(f));
  assert.notEqual(dirHash(b2), h0, 'B changed by --force');
  // the bundle's rows are in; B's own change (not in the bundle) stays
  const after = kuzusync(['diff', a, b2, '--json']);
  const ref = referenceDiff(a, b2);
  assertDiffMatches(after, ref);
  const differing = Object.fromEntries(Object.entries(ref.tables).filter(([, x]) => tableDiffers(x)).map(([n, x]) => [n, counts(x)]));
  assert.deepEqual(differing, { person: { only_in_a: 0, only_in_b: 0, changed: 1 } },
    `after --force only B's own change to person 3 remains\n${describeRun(after)}\n${describeRun(kuzusync(['diff', a, b2, '--rows']))}`);
  assert.deepEqual(ref.keys.person.changed, ['3']);
});

// ---------------------------------------------------------------- 5
test('5. kill -9 during apply leaves B old or new; apply again completes', { timeout: 90_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await buildGenerated(db, dir);
  const b = await db.exportCsv(path.join(dir, 'b'));
  await mutateGenerated(db);
  const a = await db.exportCsv(path.join(dir, 'a'));
  await db.close();
  const bundle = path.join(dir, 'd.kzb');
  makeBundle(a, b, bundle);
  const oldH = hashTables(b);
  const newH = hashTables(a);
  assert.notDeepEqual(oldH, newH);

  // how long does an apply take?
  const probe = copyDir(b, path.join(dir, 'probe', 'b'));
  const p = spawnKuzusync(['apply', bundle, probe]);
  const pr = await p.done;
  assert.equal(pr.code, 0, pr.stderr);
  const N = Math.max(20, Math.ceil(pr.ms));
  t.diagnostic(`apply on the generated graph: ${pr.ms.toFixed(1)} ms; kill delays drawn from 0..${N} ms`);

  const rand = rng(Number(process.env.KILL_SEED ?? 20240607));
  const runs = [];
  const problems = [];
  let interrupted = 0;
  const WANT = 10;
  for (let i = 0; interrupted < WANT && i < 2 * WANT; i++) {
    const parent = path.join(dir, `run-${i}`);
    const bk = copyDir(b, path.join(parent, 'b'));
    // half the delays spread over the apply's duration, half near its end (the switch-over)
    const delay = i % 2 === 0
      ? Math.floor(((i / 2) % 5 + rand()) * N / 5)
      : Math.floor(N * (0.75 + 0.35 * rand()));
    const proc = spawnKuzusync(['apply', bundle, bk]);
    await sleep(delay);
    const killed = proc.child.exitCode === null && proc.child.kill('SIGKILL');
    const res = await proc.done;
    if (res.signal === 'SIGKILL') interrupted++;
    const h = kuzusync(['hash', bk, '--json']);
    const state = h.status !== 0 ? `unreadable (hash exit ${h.status})`
      : isDeepEq(h.json.tables, oldH) ? 'old'
        : isDeepEq(h.json.tables, newH) ? 'new' : 'MIXED';
    const leftovers = fs.readdirSync(parent).filter(f => f !== 'b' && !isReplicaState(f));
    runs.push({ i, delay, killed, exit: res.code, signal: res.signal, ms: Math.round(res.ms), state, leftovers });
    if (state !== 'old' && state !== 'new') {
      let detail = describeRun(h);
      if (h.status === 0) {
        const tabs = Object.keys(newH).filter(n => !isDeepEq(h.json.tables[n], oldH[n]) && !isDeepEq(h.json.tables[n], newH[n]));
        detail = `tables matching neither old nor new: ${tabs.join(', ')}; ` +
          `tables at new: ${Object.keys(newH).filter(n => isDeepEq(h.json.tables[n], newH[n]) && !isDeepEq(oldH[n], newH[n])).join(', ')}`;
      }
      problems.push(`run ${i} (kill after ${delay} ms): B is ${state}\n${detail}`);
    }
    // apply again completes
    const again = kuzusync(['apply', bundle, bk]);
    if (again.status !== 0) problems.push(`run ${i}: apply again failed\n${describeRun(again)}`);
    else {
      const d = kuzusync(['diff', a, bk]);
      if (d.status !== 0) problems.push(`run ${i}: diff after re-apply exit ${d.status}\n${describeRun(d)}`);
    }
    const stray = fs.readdirSync(parent).filter(f => f !== 'b' && !isReplicaState(f));
    if (stray.length) problems.push(`run ${i}: left next to B after the successful re-apply: ${stray.join(', ')}`);
  }
  t.diagnostic(`kill runs: ${JSON.stringify(runs)}`);
  t.diagnostic(`${interrupted} runs killed mid-apply; states after the kill: ${JSON.stringify(runs.filter(r => r.signal).map(r => r.state))}`);
  assert.ok(interrupted >= 1, 'at least one apply was killed while running');
  assert.equal(problems.length, 0, problems.join('\n\n'));
});

function isDeepEq(x, y) {
  try { assert.deepEqual(x, y); return true; } catch { return false; }
}

// ---------------------------------------------------------------- 6
test('6. snapshot pack / verify / unpack; damaged snapshots', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await loadTinysnb(db);
  await mutateTinysnb(db);
  const e = await db.exportCsv(path.join(dir, 'e'));
  const snap = path.join(dir, 'e.tar.zst');
  const pk = kuzusync(['snapshot', 'pack', e, '-o', snap, '--level', '19', '--threads', '2']);
  assert.equal(pk.status, 0, describeRun(pk));
  t.diagnostic(`pack: ${pk.stderr.trim()}`);
  assert.match(pk.stderr, /ratio|[0-9.]+\s*x\b|%/i, `pack reports a compression ratio\n${describeRun(pk)}`);
  const members = tarList(snap);
  assert.equal(members[0], 'MANIFEST', `first member: ${members.join(', ')}`);
  for (const f of fs.readdirSync(e)) assert.ok(members.includes(f), `snapshot holds ${f}: ${members.join(', ')}`);
  const ins = kuzusync(['inspect', snap, '--json']);
  assert.equal(ins.status, 0, describeRun(ins));
  assert.equal(ins.json?.kind, 'snapshot', describeRun(ins));

  const v = kuzusync(['snapshot', 'verify', snap]);
  assert.equal(v.status, 0, describeRun(v));
  const u = path.join(dir, 'unpacked');
  const up = kuzusync(['snapshot', 'unpack', snap, '-C', u]);
  assert.equal(up.status, 0, describeRun(up));
  assertSame(e, u, 'unpacked snapshot');
  for (const f of fs.readdirSync(e)) {
    assert.ok(fs.readFileSync(path.join(u, f)).equals(fs.readFileSync(path.join(e, f))), `${f} unpacked byte for byte`);
  }
  // DIR must not exist
  const h0 = dirHash(u);
  const up2 = kuzusync(['snapshot', 'unpack', snap, '-C', u]);
  assert.notEqual(up2.status, 0, describeRun(up2));
  assert.equal(dirHash(u), h0, 'existing DIR untouched');

  // defaults (no --level/--threads) also work
  const snap2 = path.join(dir, 'e2.tar.zst');
  const pk2 = kuzusync(['snapshot', 'pack', e, '-o', snap2]);
  assert.equal(pk2.status, 0, describeRun(pk2));
  t.diagnostic(`pack (defaults): ${pk2.stderr.trim()}`);

  // damage
  const size = fs.statSync(snap).size;
  const damaged = [
    ['one byte flipped in the middle', f => flipByte(f, Math.floor(size / 2))],
    ['truncated to half', f => truncateFile(f, Math.floor(size / 2))],
    ['last byte cut', f => truncateFile(f, size - 1)],
  ];
  const problems = [];
  for (const [name, damage] of damaged) {
    const f = path.join(dir, `damaged-${name.replaceAll(' ', '-')}.tar.zst`);
    fs.copyFileSync(snap, f);
    damage(f);
    const r = kuzusync(['snapshot', 'verify', f]);
    if (r.status !== 1) problems.push(`${name}: verify exit ${r.status}, expected 1\n${describeRun(r)}`);
    else if (!r.stderr.trim() && !r.stdout.trim()) problems.push(`${name}: verify says nothing about the damage\n${describeRun(r)}`);
    else t.diagnostic(`${name}: verify says: ${(r.stderr.trim() || r.stdout.trim()).split('\n')[0]}`);
    const d = path.join(dir, `unpack-${name.replaceAll(' ', '-')}`);
    const ur = kuzusync(['snapshot', 'unpack', f, '-C', d]);
    if (ur.status === 0) problems.push(`${name}: unpack exit 0\n${describeRun(ur)}`);
    if (fs.existsSync(d)) problems.push(`${name}: unpack left ${d} behind (${fs.readdirSync(d).join(', ')})`);
    const stray = fs.readdirSync(dir).filter(x => !isReplicaState(x) && (x.startsWith('unpack-') || x.includes('.tmp') || x.startsWith('.')));
    if (stray.length) problems.push(`${name}: stray entries in the parent dir after unpack: ${stray.join(', ')}`);
  }
  assert.equal(problems.length, 0, problems.join('\n\n'));
});

// ---------------------------------------------------------------- 7
test('7. a damaged bundle is refused and B is left untouched', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await loadTinysnb(db);
  const b = await db.exportCsv(path.join(dir, 'b'));
  await mutateTinysnb(db);
  const a = await db.exportCsv(path.join(dir, 'a'));
  const bundle = path.join(dir, 'd.kzb');
  makeBundle(a, b, bundle);
  const snap = path.join(dir, 'a.tar.zst');
  assert.equal(kuzusync(['snapshot', 'pack', a, '-o', snap]).status, 0);
  const size = fs.statSync(bundle).size;
  const variants = [
    ['truncated to half', f => truncateFile(f, Math.floor(size / 2))],
    ['last byte cut', f => truncateFile(f, size - 1)],
    ['one byte flipped in the middle', f => flipByte(f, Math.floor(size / 2))],
    ['one byte flipped near the end', f => flipByte(f, size - 6)],
    ['empty file', f => truncateFile(f, 0)],
    ['a snapshot, not a bundle', f => fs.copyFileSync(snap, f)],
  ];
  const problems = [];
  for (const [name, damage] of variants) {
    const f = path.join(dir, `bad-${name.replaceAll(/[ ,]+/g, '-')}.kzb`);
    fs.copyFileSync(bundle, f);
    damage(f);
    const bk = copyDir(b, path.join(dir, `b-${name.replaceAll(/[ ,]+/g, '-')}`));
    const h0 = dirHash(bk);
    const r = kuzusync(['apply', f, bk]);
    if (r.status === 0) problems.push(`${name}: apply exit 0\n${describeRun(r)}`);
    else if (r.status !== 2) problems.push(`${name}: apply exit ${r.status}, expected 2\n${describeRun(r)}`);
    if (r.signal) problems.push(`${name}: apply killed by ${r.signal}`);
    if (!r.stderr.trim()) problems.push(`${name}: no message on stderr`);
    else t.diagnostic(`${name}: apply says: ${r.stderr.trim().split('\n')[0]}`);
    if (dirHash(bk) !== h0) problems.push(`${name}: B was modified`);
    const out = path.join(dir, `cy-${name.replaceAll(/[ ,]+/g, '-')}`);
    const c = kuzusync(['apply', f, '--cypher', out]);
    if (c.status === 0) problems.push(`${name}: apply --cypher exit 0\n${describeRun(c)}`);
    if (fs.existsSync(out)) problems.push(`${name}: apply --cypher left ${out} behind`);
  }
  // the intact bundle still applies to B
  const ok = copyDir(b, path.join(dir, 'b-ok'));
  const r = kuzusync(['apply', bundle, ok]);
  assert.equal(r.status, 0, describeRun(r));
  assertSame(a, ok, 'intact bundle');
  assert.equal(problems.length, 0, problems.join('\n\n'));
});
