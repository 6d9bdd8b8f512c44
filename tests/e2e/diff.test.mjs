// End-to-end tests of kuzusync against exports made by the real Kuzu engine
// (npm kuzu 0.11.3). Run: node --test tests/e2e/
// Binary: $KUZUSYNC_BIN or <repo>/build/src/kuzusync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import {
  tempDir, newDb, loadTinysnb, copyDir, kuzusync, describeRun, binExists, splitCypher, KUZUSYNC_BIN, KUZU_DATASETS, REPO,
} from './lib/kuzu.mjs';
import { referenceDiff, referenceHash, readExport, shuffleExportRows, parseCsv, tableDiffers } from './lib/reference.mjs';
import { assertDiffMatches, assertJsonShape } from './lib/assert-diff.mjs';
import { buildPeople, buildGenerated, userKey } from './lib/graphs.mjs';

function requireBin() {
  assert.ok(binExists(), `kuzusync binary not found at ${KUZUSYNC_BIN} (build into build/ or set KUZUSYNC_BIN)`);
}

/** Runs `diff A B --json` and asserts it agrees with the reference; returns [json, ref]. */
function diffAndCompare(a, b, opts = {}) {
  const run = kuzusync(['diff', a, b, '--json']);
  const ref = referenceDiff(a, b);
  const json = assertDiffMatches(run, ref, opts);
  return [json, ref, run];
}

const counts = t => ({ only_in_a: t.only_in_a, only_in_b: t.only_in_b, changed: t.changed });

// ---------------------------------------------------------------- a
test('a. tinysnb exported twice, and with shuffled rows, is identical', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await loadTinysnb(db);
  const e1 = await db.exportCsv(path.join(dir, 'e1'));
  const e2 = await db.exportCsv(path.join(dir, 'e2'));
  const shuffled = copyDir(e1, path.join(dir, 'shuffled'));
  shuffleExportRows(shuffled, 42);
  // the shuffle really changed the bytes of a multi-row file
  assert.notEqual(fs.readFileSync(path.join(shuffled, 'knows_person_person.csv'), 'utf8'),
    fs.readFileSync(path.join(e1, 'knows_person_person.csv'), 'utf8'));

  for (const [a, b] of [[e1, e2], [e1, shuffled], [shuffled, e2], [e1, e1]]) {
    const [json, ref] = diffAndCompare(a, b);
    assert.equal(ref.identical, true);
    assert.equal(json.identical, true);
    for (const [n, tab] of Object.entries(json.tables)) {
      assert.deepEqual(counts(tab), { only_in_a: 0, only_in_b: 0, changed: 0 }, `table ${n} must be all zeros`);
    }
    // the human summary agrees on the exit code
    const human = kuzusync(['diff', a, b]);
    assert.equal(human.status, 0, describeRun(human));
  }
  // row counts as Kuzu reports them
  const run = kuzusync(['diff', e1, shuffled, '--json']);
  for (const [label, n] of [['person', 8], ['organisation', 3], ['movies', 3], ['knows', 14], ['meets', 7]]) {
    if (run.json.tables[label]) {
      assert.equal(run.json.tables[label].rows_a, n, `${label}.rows_a`);
      assert.equal(run.json.tables[label].rows_b, n, `${label}.rows_b`);
    }
  }
});

// ---------------------------------------------------------------- b
test('b. tinysnb with inserts, updates, DETACH DELETE and rel changes', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await loadTinysnb(db);
  const a = await db.exportCsv(path.join(dir, 'a'));

  // node updates: STRING with emoji/comma/quote, a list, a STRUCT, a MAP
  await db.q(`MATCH (p:person) WHERE p.ID = 0 SET p.fName = 'Alice 🧘🏻‍♂️🌍 "q", ok'`);
  await db.q(`MATCH (p:person) WHERE p.ID = 2 SET p.usedNames = ['Bobby', 'Robert', 'Bob 😂']`);
  await db.q(`MATCH (o:organisation) WHERE o.ID = 1 SET o.state = {revenue: 999, location: ['toronto'], stock: {price: [1, 2], volume: 7}}`);
  await db.q(`MATCH (m:movies) WHERE m.name = 'Roma' SET m.audience = map(['x', 'y'], [1, 2])`);
  await db.q(`MATCH (m:movies) WHERE m.name STARTS WITH 'The 😂' SET m.note = 'now with 🍞 and a\nnewline'`);
  // node inserts
  await db.q(`CREATE (:person {ID: 100, fName: 'Zoë 🍞', gender: 1, isStudent: true, age: 22, usedNames: ['z', 'zz'], grades: [1, 2, 3, 4], workedHours: [1]})`);
  await db.q(`CREATE (:person {ID: 101, fName: 'multi\nline, "quoted"'})`);
  await db.q(`CREATE (:organisation {ID: 50, name: 'NewOrg', orgCode: 1})`);
  // duplicate an existing rel: same from/to/props twice
  await db.q(`MATCH (a:person)-[r:knows]->(b:person) WHERE a.ID = 0 AND b.ID = 3
    CREATE (a)-[:knows {date: r.date, meetTime: r.meetTime, validInterval: r.validInterval, comments: r.comments,
                        summary: r.summary, notes: r.notes, someMap: r.someMap}]->(b)`);
  // node delete with its rels
  const vanished = Object.fromEntries((await db.q(`MATCH (a:person)-[r]-(b) WHERE a.ID = 9 RETURN label(r) AS l, count(*) AS c`)).map(r => [r.l, r.c]));
  assert.deepEqual(vanished, { knows: 1, meets: 1 }, 'tinysnb: Greg (ID 9) has one knows and one meets rel');
  await db.q(`MATCH (p:person) WHERE p.ID = 9 DETACH DELETE p`);
  // rel inserts, including two identical new rels
  await db.q(`MATCH (a:person), (b:person) WHERE a.ID = 100 AND b.ID = 10 CREATE (a)-[:knows {date: date('2024-02-29'), comments: ['hi 👋']}]->(b)`);
  await db.q(`MATCH (a:person), (b:person) WHERE a.ID = 101 AND b.ID = 100
    CREATE (a)-[:knows {date: date('2001-01-01')}]->(b), (a)-[:knows {date: date('2001-01-01')}]->(b)`);
  await db.q(`MATCH (a:person), (b:person) WHERE a.ID = 100 AND b.ID = 101 CREATE (a)-[:marries {note: 'twice, "really"'}]->(b)`);
  // rel property updates
  await db.q(`MATCH (a:person)-[r:knows]->(b:person) WHERE a.ID = 2 AND b.ID = 3 SET r.comments = ['changed']`);
  await db.q(`MATCH (a:person)-[r:studyAt]->(b:organisation) WHERE a.ID = 8 SET r.year = 1999`);
  // rel delete
  await db.q(`MATCH (a:person)-[r:workAt]->(b:organisation) WHERE a.ID = 3 DELETE r`);
  const b = await db.exportCsv(path.join(dir, 'b'));

  const [json, ref] = diffAndCompare(a, b);
  assert.equal(json.identical, false);
  // what the mutations imply
  const expected = {
    person: { only_in_a: 1, only_in_b: 2, changed: 2 },
    organisation: { only_in_a: 0, only_in_b: 1, changed: 1 },
    movies: { only_in_a: 0, only_in_b: 0, changed: 2 },
    // a: updated 2->3 (old), Greg's knows; b: dup 0->3, updated 2->3 (new), 100->10, 2x 101->100
    knows: { only_in_a: 1 + vanished.knows, only_in_b: 5, changed: 0 },
    meets: { only_in_a: vanished.meets, only_in_b: 0, changed: 0 },
    marries: { only_in_a: 0, only_in_b: 1, changed: 0 },
    studyAt: { only_in_a: 1, only_in_b: 1, changed: 0 },
    workAt: { only_in_a: 1, only_in_b: 0, changed: 0 },
  };
  for (const [n, e] of Object.entries(expected)) {
    assert.deepEqual(counts(ref.tables[n]), e, `reference vs mutations for ${n}`);
    assert.deepEqual(counts(json.tables[n]), e, `kuzusync vs mutations for ${n}\n${JSON.stringify(json.tables[n])}`);
  }
  assert.deepEqual(json.tables.knows.rows_a, 14);
  assert.deepEqual(json.tables.knows.rows_b, 14 - 2 + 5);
  assert.deepEqual(ref.keys.person, { only_in_a: ['9'], only_in_b: ['100', '101'], changed: ['0', '2'] });

  // reverse direction swaps the sides
  const [rev] = diffAndCompare(b, a);
  assert.deepEqual(counts(rev.tables.person), { only_in_a: 2, only_in_b: 1, changed: 2 });
  assert.deepEqual(counts(rev.tables.knows), { only_in_a: 5, only_in_b: 2, changed: 0 });

  const human = kuzusync(['diff', a, b]);
  assert.equal(human.status, 1, describeRun(human));
  assert.ok(human.stdout.length > 0, 'human summary on stdout');
});

// ---------------------------------------------------------------- c
test('c. generated graph (~120k rows) with scattered changes', { timeout: 120_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  const total = await buildGenerated(db, dir);
  assert.ok(total >= 100_000);
  const a = await db.exportCsv(path.join(dir, 'a'));
  const n = async q => Number(await db.scalar(q));

  const DEL = 'u.id % 1000 = 6';
  const delB = 'b.id % 1000 = 6';
  const UPD = '(u.id % 997 = 11 OR u.id % 3001 = 2 OR u.id % 4999 = 5 OR u.id % 1013 = 0)';
  const deleted = await n(`MATCH (u:User) WHERE ${DEL} RETURN count(*)`);
  const updated = await n(`MATCH (u:User) WHERE ${UPD} AND NOT ${DEL} RETURN count(*)`);
  const relsA = await n(`MATCH ()-[f:Follows]->() RETURN count(*)`);
  // rels that leave A: touching a deleted user, directly deleted, or updated
  const goneUU = await n(`MATCH (u:User)-[f:Follows]->(b:User)
    WHERE ${DEL} OR ${delB} OR u.id % 1500 = 3 OR u.id % 1300 = 4 RETURN count(*)`);
  const goneUC = await n(`MATCH (u:User)-[f:Follows]->(c:City) WHERE ${DEL} RETURN count(*)`);
  const updatedRels = await n(`MATCH (u:User)-[f:Follows]->(b:User)
    WHERE u.id % 1300 = 4 AND NOT (${DEL} OR ${delB} OR u.id % 1500 = 3) RETURN count(*)`);
  assert.ok(deleted > 0 && updated > 0 && goneUU > 0 && goneUC > 0 && updatedRels > 0);

  await db.q(`MATCH (u:User) WHERE u.id % 997 = 11 SET u.score = u.score + 1.5`);
  await db.q(`MATCH (u:User) WHERE u.id % 3001 = 2 SET u.tags = list_append(u.tags, 'new')`);
  await db.q(`MATCH (u:User) WHERE u.id % 4999 = 5 SET u.bio = 'new bio 🚀, "q"'`);
  // NULL <-> empty string (and text -> NULL): always a change
  await db.q(`MATCH (u:User) WHERE u.id % 1013 = 0 SET u.bio = CASE WHEN u.bio IS NULL THEN '' ELSE NULL END`);
  await db.q(`MATCH (u:User)-[f:Follows]->(b:User) WHERE u.id % 1300 = 4 SET f.since = f.since + 100`);
  await db.q(`MATCH (u:User)-[f:Follows]->(b:User) WHERE u.id % 1500 = 3 DELETE f`);
  await db.q(`MATCH (u:User) WHERE ${DEL} DETACH DELETE u`);
  await db.q(`UNWIND range(100000, 100049) AS i
    CREATE (:User {id: i, name: 'new' + cast(i AS STRING), score: 0.5, active: true, born: date('2000-01-01'), tags: ['x'], bio: NULL})`);
  await db.q(`MATCH (a:User), (b:User) WHERE a.id >= 100000 AND b.id = (a.id - 100000) * 11
    CREATE (a)-[:Follows {since: 2030, weight: 1.25}]->(b)`);
  await db.q(`MATCH (a:User), (c:City) WHERE a.id >= 100000 AND c.name = 'city-' + cast(a.id % 200 AS STRING)
    CREATE (a)-[:Follows {since: 2031, weight: 2.5}]->(c)`);
  // exact duplicates of an untouched User->User and User->City rel, and a new rel between old users
  await db.q(`MATCH (a:User)-[f:Follows]->(b:User) WHERE a.id = 1 CREATE (a)-[:Follows {since: f.since, weight: f.weight}]->(b)`);
  await db.q(`MATCH (a:User)-[f:Follows]->(c:City) WHERE a.id = 12 CREATE (a)-[:Follows {since: f.since, weight: f.weight}]->(c)`);
  await db.q(`MATCH (a:User), (b:User) WHERE a.id = 2 AND b.id = 3 CREATE (a)-[:Follows {since: 1999, weight: 0.75}]->(b)`);
  const relsB = await n(`MATCH ()-[f:Follows]->() RETURN count(*)`);
  const newRels = await n(`MATCH (a:User)-[f:Follows]->() WHERE a.id >= 100000 RETURN count(*)`);
  assert.equal(newRels, 100);
  const b = await db.exportCsv(path.join(dir, 'b'));

  const t0 = Date.now();
  const [json, ref, run] = diffAndCompare(a, b);
  const ms = Date.now() - t0;
  t.diagnostic(`kuzusync diff on ${total} rows: ${ms} ms (incl. reference), stats ${JSON.stringify(run.json.stats)}`);
  assert.deepEqual(counts(json.tables.User), { only_in_a: deleted, only_in_b: 50, changed: updated });
  assert.equal(json.tables.User.rows_a, 60000);
  assert.equal(json.tables.User.rows_b, 60000 - deleted + 50);
  assert.deepEqual(counts(json.tables.Follows), {
    only_in_a: goneUU + goneUC,
    only_in_b: updatedRels + newRels + 3,
    changed: 0,
  });
  assert.equal(json.tables.Follows.rows_a, relsA);
  assert.equal(json.tables.Follows.rows_b, relsB);
  assert.ok(!json.tables.City || !tableDiffers(json.tables.City), 'City unchanged');

  // identical large exports (second export of B, shuffled) -> exit 0
  const b2 = await db.exportCsv(path.join(dir, 'b2'));
  shuffleExportRows(b2, 9);
  const same = kuzusync(['diff', b, b2, '--json']);
  assert.equal(same.status, 0, describeRun(same));
  assert.equal(same.json?.identical, true, describeRun(same));
});

// ---------------------------------------------------------------- d
test('d. --rows lists the differing keys; --table limits the tables', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await buildPeople(db, dir, { users: 300, cities: 10 });
  const a = await db.exportCsv(path.join(dir, 'a'));
  const del = [5, 17, 123, 200, 299].map(userKey);
  const upd = [0, 1, 42, 77, 150, 250].map(userKey);
  const ins = [300, 301, 302, 303].map(userKey);
  for (const k of del) await db.q(`MATCH (u:User {name: '${k}'}) DETACH DELETE u`);
  for (const k of upd) await db.q(`MATCH (u:User {name: '${k}'}) SET u.age = u.age + 100`);
  for (const k of ins) await db.q(`CREATE (:User {name: '${k}', age: 1, note: 'new'})`);
  await db.q(`MATCH (a:User {name: '${ins[0]}'}), (b:User {name: '${userKey(10)}'}) CREATE (a)-[:Follows {since: 2024}]->(b)`);
  await db.q(`MATCH (c:City {name: 'city-3'}) SET c.pop = 7`);
  const b = await db.exportCsv(path.join(dir, 'b'));
  const ref = referenceDiff(a, b);
  assert.deepEqual(counts(ref.tables.User), { only_in_a: 5, only_in_b: 4, changed: 6 });

  // --rows limited to User: one line per key, with the right sign
  const run = kuzusync(['diff', a, b, '--rows', '--table', 'User']);
  assert.equal(run.status, 1, describeRun(run));
  const got = { '+': [], '-': [], '~': [] };
  for (const line of run.stdout.split('\n')) {
    const m = /^([+\-~]) /.exec(line);
    if (!m) continue;
    const keys = line.match(/user-\d{4}/g) ?? [];
    assert.equal(keys.length, 1, `a User row line names exactly one key: ${JSON.stringify(line)}\n${describeRun(run)}`);
    got[m[1]].push(keys[0]);
  }
  const sort = x => [...x].sort();
  assert.deepEqual(sort(got['+']), sort(ref.keys.User.only_in_a), `'+' keys (only in A)\n${describeRun(run)}`);
  assert.deepEqual(sort(got['-']), sort(ref.keys.User.only_in_b), `'-' keys (only in B)\n${describeRun(run)}`);
  assert.deepEqual(sort(got['~']), sort(ref.keys.User.changed), `'~' keys (changed)\n${describeRun(run)}`);

  // --rows on the rel table: every rel only in A / only in B shows up on a line with its endpoints
  const rr = kuzusync(['diff', a, b, '--rows', '--table', 'Follows']);
  assert.equal(rr.status, 1, describeRun(rr));
  const lines = rr.stdout.split('\n');
  for (const [sign, rows] of [['+', ref.keys.Follows.only_in_a], ['-', ref.keys.Follows.only_in_b]]) {
    for (const [from, to] of rows) {
      assert.ok(lines.some(l => l.startsWith(sign + ' ') && l.includes(from) && l.includes(to)),
        `expected a '${sign} ' line with ${from} and ${to}\n${describeRun(rr)}`);
    }
    const n = lines.filter(l => l.startsWith(sign + ' ')).length;
    const distinct = new Set(rows.map(r => JSON.stringify(r))).size;
    assert.ok(n >= distinct && n <= rows.length, `${n} '${sign}' lines for ${rows.length} rels\n${describeRun(rr)}`);
  }
  assert.ok(!lines.some(l => l.startsWith('~ ')), `no '~' lines for a rel table\n${describeRun(rr)}`);
  assert.ok(!lines.some(l => /^[+\-~] /.test(l) && /city-/.test(l)), `--table Follows must not list LivesIn/City rows\n${describeRun(rr)}`);

  // --table limits the JSON
  const lim = kuzusync(['diff', a, b, '--json', '--table', 'User', '--table', 'Follows']);
  assert.equal(lim.status, 1, describeRun(lim));
  const j = assertJsonShape(lim);
  assert.deepEqual(Object.keys(j.tables).sort(), ['Follows', 'User'], describeRun(lim));
  const refLim = referenceDiff(a, b, { tables: ['User', 'Follows'] });
  assertDiffMatches(lim, refLim);

  const city = kuzusync(['diff', a, b, '--json', '--table', 'City']);
  assert.equal(city.status, 1, describeRun(city));
  assert.deepEqual(Object.keys(assertJsonShape(city).tables), ['City'], describeRun(city));
  assert.deepEqual(counts(city.json.tables.City), { only_in_a: 0, only_in_b: 0, changed: 1 });

  // full --json agrees too
  assertDiffMatches(kuzusync(['diff', a, b, '--json']), ref);
});

// ---------------------------------------------------------------- e
test('e. schema differences: table only in A / only in B, columns added', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await buildPeople(db, dir, { users: 50, cities: 5 });
  await db.run(`
    CREATE NODE TABLE Extra(id INT64, v STRING, PRIMARY KEY(id));
    CREATE NODE TABLE Pet(id INT64, kind STRING, PRIMARY KEY(id));
    UNWIND range(1, 5) AS i CREATE (:Extra {id: i, v: 'x'});
    UNWIND range(1, 20) AS i CREATE (:Pet {id: i, kind: 'cat'});
  `);
  const a = await db.exportCsv(path.join(dir, 'a'));
  await db.run(`
    DROP TABLE Extra;
    CREATE NODE TABLE OnlyB(id INT64, PRIMARY KEY(id));
    CREATE (:OnlyB {id: 1});
    ALTER TABLE User ADD email STRING DEFAULT 'none';
    ALTER TABLE Follows ADD weight DOUBLE;
    MATCH (p:Pet) WHERE p.id = 3 SET p.kind = 'dog';
  `);
  const b = await db.exportCsv(path.join(dir, 'b'));
  const ref = referenceDiff(a, b);
  assert.deepEqual(ref.schema, { only_in_a: ['Extra'], only_in_b: ['OnlyB'], changed: ['Follows', 'User'] });

  const run = kuzusync(['diff', a, b, '--json']);
  // Row counts of tables whose schema differs are not specified; the rest must match.
  assertDiffMatches(run, ref, { skipTables: ['Extra', 'OnlyB', 'User', 'Follows'] });
  assert.deepEqual(counts(run.json.tables.Pet), { only_in_a: 0, only_in_b: 0, changed: 1 });
  t.diagnostic(`schema-changed tables as reported: ${JSON.stringify(Object.fromEntries(
    ['Extra', 'OnlyB', 'User', 'Follows'].map(n => [n, run.json.tables[n]])))}`);

  // Only a schema difference (no row changes): still not identical
  const a2 = copyDir(a, path.join(dir, 'a2'));
  const schemaOnly = path.join(dir, 'schema-only');
  copyDir(a, schemaOnly);
  fs.appendFileSync(path.join(schemaOnly, 'schema.cypher'), 'CREATE NODE TABLE `Empty` (`id` INT64, PRIMARY KEY(`id`));\n');
  fs.appendFileSync(path.join(schemaOnly, 'copy.cypher'), 'COPY `Empty` (`id`) FROM "Empty.csv" (parallel=true);\n');
  fs.writeFileSync(path.join(schemaOnly, 'Empty.csv'), '');
  const r2 = kuzusync(['diff', a2, schemaOnly, '--json']);
  const ref2 = referenceDiff(a2, schemaOnly);
  assert.deepEqual(ref2.schema.only_in_b, ['Empty']);
  assertDiffMatches(r2, ref2, { skipTables: ['Empty'] });
  const human = kuzusync(['diff', a, b]);
  assert.equal(human.status, 1, describeRun(human));
});

// ---------------------------------------------------------------- f
test('f. bad input exits 2 naming the file (and line)', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await buildPeople(db, dir, { users: 40, cities: 4 });
  const good = await db.exportCsv(path.join(dir, 'good'));
  const userLines = fs.readFileSync(path.join(good, 'User.csv'), 'utf8').split('\n').filter(Boolean);
  const n = userLines.length;
  assert.equal(n, 40);

  const variant = (name, mutate) => {
    const d = copyDir(good, path.join(dir, name));
    mutate(d);
    return d;
  };
  const cases = [
    {
      name: 'missing schema.cypher',
      dir: variant('no-schema', d => fs.rmSync(path.join(d, 'schema.cypher'))),
      file: 'schema.cypher',
    },
    {
      name: 'missing data file',
      dir: variant('no-data', d => fs.rmSync(path.join(d, 'User.csv'))),
      file: 'User.csv',
    },
    {
      name: 'missing data file of a rel table with several FROM/TO pairs',
      dir: variant('no-rel-data', d => fs.rmSync(path.join(d, 'LivesIn_City_City.csv'))),
      file: 'LivesIn_City_City.csv',
    },
    {
      name: 'unterminated quote',
      dir: variant('unterminated', d => fs.appendFileSync(path.join(d, 'User.csv'), 'user-9999,5,"no end\nstill open\n')),
      file: 'User.csv',
      lines: [n + 1, n + 2, n + 3], // where the quoted field starts (or where EOF is met)
    },
    {
      name: 'too few fields',
      dir: variant('few-fields', d => {
        const l = [...userLines];
        l[2] = 'user-0002,20';
        fs.writeFileSync(path.join(d, 'User.csv'), l.join('\n') + '\n');
      }),
      file: 'User.csv',
      lines: [3],
    },
    {
      name: 'too many fields in a rel file',
      dir: variant('many-fields', d => {
        const f = path.join(d, 'Follows_User_User.csv');
        const l = fs.readFileSync(f, 'utf8').split('\n').filter(Boolean);
        l[4] = l[4] + ',extra';
        fs.writeFileSync(f, l.join('\n') + '\n');
      }),
      file: 'Follows_User_User.csv',
      lines: [5],
    },
    {
      name: 'duplicate primary key',
      dir: variant('dup-pk', d => fs.appendFileSync(path.join(d, 'User.csv'), 'user-0007,99,duplicate\n')),
      file: 'User.csv',
    },
  ];
  // sanity: the reference rejects them all too
  for (const c of cases) assert.throws(() => readExport(c.dir), undefined, `reference must reject: ${c.name}`);

  const failures = [];
  const check = (c, args) => {
    const r = kuzusync(args);
    const problems = [];
    if (r.status !== 2) problems.push(`exit ${r.status}, expected 2`);
    if (!r.stderr.includes(c.file)) problems.push(`stderr does not name ${c.file}`);
    if (c.lines && !c.lines.some(l => new RegExp(`\\b${l}\\b`).test(r.stderr))) problems.push(`stderr does not give line ${c.lines.join(' or ')}`);
    if (r.signal) problems.push(`killed by ${r.signal}`);
    if (problems.length) failures.push(`${c.name}: ${problems.join('; ')}\n${describeRun(r)}`);
  };
  for (const c of cases) {
    check(c, ['diff', good, c.dir, '--json']);
    check(c, ['diff', c.dir, good]);
    check(c, ['hash', c.dir, '--json']);
  }

  // Parquet export (the default format of EXPORT DATABASE in 0.11.3)
  const pq = await db.exportDefault(path.join(dir, 'parquet'));
  assert.ok(fs.readdirSync(pq).some(f => f.endsWith('.parquet')), 'Kuzu wrote parquet files');
  for (const args of [['diff', good, pq, '--json'], ['diff', pq, good], ['hash', pq]]) {
    const r = kuzusync(args);
    if (r.status !== 2 || !/parquet/i.test(r.stderr)) failures.push(`parquet: exit ${r.status}, expected 2 and "parquet" in stderr\n${describeRun(r)}`);
  }
  // a directory that does not exist
  const missing = path.join(dir, 'does-not-exist');
  const r = kuzusync(['diff', good, missing]);
  if (r.status !== 2 || !r.stderr.includes('does-not-exist')) failures.push(`missing dir: exit ${r.status}, expected 2 naming the dir\n${describeRun(r)}`);

  assert.equal(failures.length, 0, failures.join('\n\n'));
});

// ---------------------------------------------------------------- g
test('g. hash --json: same roots for the same database exported twice', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await loadTinysnb(db);
  const e1 = await db.exportCsv(path.join(dir, 'e1'));
  const e2 = await db.exportCsv(path.join(dir, 'e2'));
  const sh = copyDir(e1, path.join(dir, 'sh'));
  shuffleExportRows(sh, 3);
  const h1 = kuzusync(['hash', e1, '--json']);
  const h2 = kuzusync(['hash', e2, '--json']);
  const h3 = kuzusync(['hash', sh, '--json']);
  for (const h of [h1, h2, h3]) {
    assert.equal(h.status, 0, describeRun(h));
    assert.ok(h.json?.tables, describeRun(h));
  }
  const ref = referenceHash(e1);
  assert.deepEqual(Object.keys(h1.json.tables).sort(), Object.keys(ref.tables).sort());
  for (const [n, rt] of Object.entries(ref.tables)) {
    const ht = h1.json.tables[n];
    assert.equal(ht.kind, rt.kind, `${n}.kind`);
    assert.equal(ht.rows, rt.rows, `${n}.rows`);
    assert.match(ht.root, /^[0-9a-f]+$/i, `${n}.root is hex`);
  }
  // compare "tables" only: other keys (e.g. timing stats) may legitimately vary
  assert.deepEqual(h2.json.tables, h1.json.tables, 'second export hashes the same');
  assert.deepEqual(h3.json.tables, h1.json.tables, 'shuffled rows hash the same');

  // a change moves exactly the touched table's root
  await db.q(`MATCH (p:person) WHERE p.ID = 0 SET p.age = 36`);
  const e3 = await db.exportCsv(path.join(dir, 'e3'));
  const h4 = kuzusync(['hash', e3, '--json']);
  assert.equal(h4.status, 0, describeRun(h4));
  for (const n of Object.keys(ref.tables)) {
    if (n === 'person') assert.notEqual(h4.json.tables[n].root, h1.json.tables[n].root, 'person root changes');
    else assert.equal(h4.json.tables[n].root, h1.json.tables[n].root, `${n} root unchanged`);
  }
  const human = kuzusync(['hash', e1]);
  assert.equal(human.status, 0, describeRun(human));
});

// ---------------------------------------------------------------- h
test('h. odd identifiers, primary key not first, rel pairs with colliding keys', { timeout: 60_000 }, async t => {
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await db.run(`
    CREATE NODE TABLE \`my table\`(\`v,w\` STRING, n INT64, \`the id\` STRING, PRIMARY KEY(\`the id\`));
    CREATE NODE TABLE A(k INT64 PRIMARY KEY);
    CREATE NODE TABLE C(k INT64 PRIMARY KEY);
    CREATE NODE TABLE B(k INT64 PRIMARY KEY);
    CREATE REL TABLE R(FROM A TO B, FROM C TO B, w INT64);
    CREATE (:\`my table\` {\`v,w\`: 'x', n: 1, \`the id\`: 'k1'}), (:\`my table\` {\`v,w\`: 'y', n: 2, \`the id\`: 'k2'});
    CREATE (:A {k: 1}), (:C {k: 1}), (:B {k: 2});
  `);
  await db.q('MATCH (a:A {k: 1}), (b:B {k: 2}) CREATE (a)-[:R {w: 5}]->(b)');
  const a = await db.exportCsv(path.join(dir, 'a'));
  // same from key, to key and properties, but a different FROM/TO pair: a different rel
  await db.q('MATCH (:A {k: 1})-[r:R]->(:B) DELETE r');
  await db.q('MATCH (c:C {k: 1}), (b:B {k: 2}) CREATE (c)-[:R {w: 5}]->(b)');
  await db.q("MATCH (x:\`my table\`) WHERE x.\`the id\` = 'k1' SET x.\`v,w\` = 'changed'");
  const b = await db.exportCsv(path.join(dir, 'b'));
  const [json, ref] = diffAndCompare(a, b);
  assert.deepEqual(counts(ref.tables['my table']), { only_in_a: 0, only_in_b: 0, changed: 1 });
  assert.deepEqual(counts(ref.tables.R), { only_in_a: 1, only_in_b: 1, changed: 0 });
  assert.deepEqual(counts(json.tables['my table']), { only_in_a: 0, only_in_b: 0, changed: 1 });
  assert.deepEqual(counts(json.tables.R), { only_in_a: 1, only_in_b: 1, changed: 0 });
  const rows = kuzusync(['diff', a, b, '--rows', '--table', 'my table']);
  assert.equal(rows.status, 1, describeRun(rows));
  assert.deepEqual(rows.stdout.split('\n').filter(l => /^[+\-~] /.test(l)).map(l => l[0] + (l.includes('k1') ? 'k1' : '?')), ['~k1'], describeRun(rows));
});

// ---------------------------------------------------------------- i
test('i. CRLF line endings (RFC 4180) read the same as LF', { timeout: 30_000 }, async t => {
  // Kuzu writes LF, but an export that went through a CRLF conversion (e.g. git
  // core.autocrlf on Windows) is still the same data.
  requireBin();
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  await buildPeople(db, dir, { users: 30, cities: 3 });
  await db.q(`MATCH (u:User) WHERE u.name = '${userKey(3)}' SET u.note = 'two\nlines, "q"'`);
  const a = await db.exportCsv(path.join(dir, 'a'));
  const crlf = copyDir(a, path.join(dir, 'crlf'));
  for (const f of fs.readdirSync(crlf).filter(f => f.endsWith('.csv'))) {
    // record terminators only: a newline inside a quoted value is data
    const file = path.join(crlf, f);
    const text = fs.readFileSync(file, 'utf8');
    const out = parseCsv(text, file).map(r => text.slice(r.start, r.end).replace(/\n$/, '\r\n'));
    fs.writeFileSync(file, out.join(''));
  }
  assert.match(fs.readFileSync(path.join(crlf, 'User.csv'), 'utf8'), /"two\nlines, ""q"""\r\n/);
  assert.equal(referenceDiff(a, crlf).identical, true, 'reference: CRLF export is identical');
  const [json] = diffAndCompare(a, crlf, { expectExit: 0 });
  assert.equal(json.identical, true);
});

// ---------------------------------------------------------------- j
test('j. LDBC SF0.1 (1.8M rows, Kuzu dataset) with changes', { timeout: 240_000 }, async t => {
  requireBin();
  const ds = path.join(KUZU_DATASETS, 'ldbc-sf01');
  const dir = tempDir(t);
  const db = await newDb(t, dir);
  for (const f of ['schema.cypher', 'copy.cypher']) {
    for (const s of splitCypher(fs.readFileSync(path.join(ds, f), 'utf8'))) await db.q(s.replaceAll('"dataset/ldbc-sf01/', `"${ds}/`));
  }
  const a = await db.exportCsv(path.join(dir, 'a'));
  const n = async q => Number(await db.scalar(q));
  const delComments = await n('MATCH (c:Comment) WHERE c.id % 5003 = 7 RETURN count(*)');
  const updPosts = await n('MATCH (p:Post) WHERE p.id % 3001 = 2 RETURN count(*)');
  const delKnows = await n('MATCH (a:Person)-[k:knows]->(:Person) WHERE a.id % 97 = 3 RETURN count(*)');
  const updLikes = await n('MATCH (a:Person)-[k:likes_Comment]->(c:Comment) WHERE a.id % 89 = 5 AND NOT c.id % 5003 = 7 RETURN count(*)');
  await db.q('MATCH (c:Comment) WHERE c.id % 5003 = 7 DETACH DELETE c');
  await db.q(`MATCH (p:Post) WHERE p.id % 3001 = 2 SET p.content = 'edited, "x"'`);
  await db.q('MATCH (a:Person)-[k:knows]->(:Person) WHERE a.id % 97 = 3 DELETE k');
  await db.q('MATCH (a:Person)-[k:likes_Comment]->(:Comment) WHERE a.id % 89 = 5 SET k.creationDate = k.creationDate + 1');
  const b = await db.exportCsv(path.join(dir, 'b'));
  await db.close();

  const t0 = Date.now();
  const run = kuzusync(['diff', a, b, '--json']);
  t.diagnostic(`kuzusync diff LDBC SF0.1: ${Date.now() - t0} ms, stats ${JSON.stringify(run.json?.stats)}`);
  const json = assertDiffMatches(run, referenceDiff(a, b));
  assert.deepEqual(counts(json.tables.Comment), { only_in_a: delComments, only_in_b: 0, changed: 0 });
  assert.deepEqual(counts(json.tables.Post), { only_in_a: 0, only_in_b: 0, changed: updPosts });
  assert.deepEqual(counts(json.tables.knows), { only_in_a: delKnows, only_in_b: 0, changed: 0 });
  assert.equal(json.tables.likes_Comment.only_in_b, updLikes);
  const same = kuzusync(['diff', a, a, '--json']);
  assert.equal(same.status, 0, describeRun(same));
});

// ---------------------------------------------------------------- fixtures
test('committed sample replicas siteA/siteB diff like the reference', { timeout: 30_000 }, async () => {
  requireBin();
  const base = path.join(REPO, 'tests', 'fixtures', 'sample');
  const a = path.join(base, 'siteA');
  const b = path.join(base, 'siteB');
  assert.ok(fs.existsSync(a) && fs.existsSync(b), 'run: node scripts/make_samples.mjs');
  const [json, ref] = diffAndCompare(a, b);
  assert.equal(json.identical, false);
  // counts implied by the mutations in scripts/make_samples.mjs
  const expected = JSON.parse(fs.readFileSync(path.join(base, 'expected.json'), 'utf8'));
  for (const [n, e] of Object.entries(expected.tables)) {
    const want = { kind: e.kind, rows_a: e.rows_a, rows_b: e.rows_b, ...counts(e) };
    assert.deepEqual({ kind: ref.tables[n].kind, rows_a: ref.tables[n].rows_a, rows_b: ref.tables[n].rows_b, ...counts(ref.tables[n]) }, want, `reference vs expected.json for ${n}`);
    assert.deepEqual({ kind: json.tables[n]?.kind, rows_a: json.tables[n]?.rows_a, rows_b: json.tables[n]?.rows_b, ...counts(json.tables[n] ?? {}) }, want, `kuzusync vs expected.json for ${n}`);
  }
  const [same] = diffAndCompare(a, a);
  assert.equal(same.identical, true);
});

// ---------------------------------------------------------------- self-check of the reference parser
test('reference CSV parser: quotes, embedded newlines, NULL vs empty string', () => {
  const recs = parseCsv('1,"a,b","say ""hi""",\n2,"",x\n3,"multi\nline",\n4,,""\n');
  assert.deepEqual(recs.map(r => r.fields), [
    ['1', 'a,b', 'say "hi"', null],
    ['2', '', 'x'],
    ['3', 'multi\nline', null],
    ['4', null, ''],
  ]);
  assert.deepEqual(recs.map(r => r.line), [1, 2, 3, 5]);
  assert.throws(() => parseCsv('1,"open\n', 'f.csv'), /f\.csv:1: unterminated/);
});
