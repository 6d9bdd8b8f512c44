// Helpers for the bundle/apply/snapshot e2e tests (tests/e2e/bundle.test.mjs).
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';
import { spawn, spawnSync } from 'node:child_process';
import { newDb, KUZUSYNC_BIN } from './kuzu.mjs';

/**
 * Two live databases with the same content: builds `dbA` in `dir` with
 * `build(db, dir)`, closes it, copies the database file to `dbB`, and opens
 * both (closed before `dir` is removed). Returns [dbA, dbB, buildResult].
 */
export async function twinDbs(t, dir, build) {
  const first = await newDb(t, dir, 'dbA');
  const res = await build(first, dir);
  await first.close(); // checkpoints: the database is one file afterwards
  const wal = path.join(dir, 'dbA.wal');
  if (fs.existsSync(wal) && fs.statSync(wal).size > 0) throw new Error('dbA.wal not empty after close');
  fs.copyFileSync(path.join(dir, 'dbA'), path.join(dir, 'dbB'));
  const dbA = await newDb(t, dir, 'dbA');
  const dbB = await newDb(t, dir, 'dbB');
  return [dbA, dbB, res];
}

/** sha256 over every file (relative name, size, bytes) under `dir`, sorted by name. */
export function dirHash(dir) {
  const h = crypto.createHash('sha256');
  const walk = rel => {
    const abs = path.join(dir, rel);
    for (const e of fs.readdirSync(abs, { withFileTypes: true }).sort((x, y) => (x.name < y.name ? -1 : 1))) {
      const r = path.join(rel, e.name);
      if (e.isDirectory()) { h.update(`D ${r}\n`); walk(r); continue; }
      const data = fs.readFileSync(path.join(dir, r));
      h.update(`F ${r} ${data.length}\n`);
      h.update(data);
    }
  };
  walk('');
  return h.digest('hex');
}

/** `tar --zstd -tf file` -> member names (throws when tar fails). */
export function tarList(file) {
  const r = spawnSync('tar', ['--zstd', '-tf', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar --zstd -tf ${file}: exit ${r.status}\n${r.stderr}`);
  return r.stdout.split('\n').filter(Boolean);
}

/**
 * Splits an apply.cypher text the documented way: statements end with ";\n",
 * lines starting with // are comments. Returns {statements, problems}.
 */
export function splitApplyCypher(text) {
  const problems = [];
  if (text.trim() && !text.endsWith(';\n')) problems.push('apply.cypher does not end with ";\\n"');
  const statements = [];
  for (const chunk of text.split(';\n')) {
    const body = chunk.split('\n').filter(l => !l.startsWith('//')).join('\n').trim();
    if (body) statements.push(body);
  }
  return { statements, problems };
}

/**
 * Runs OUT/apply.cypher statement by statement in `db`. Does not stop at the
 * first error: returns {statements, errors: [{index, statement, error}]}.
 */
export async function runApplyCypher(db, outDir) {
  const text = fs.readFileSync(path.join(outDir, 'apply.cypher'), 'utf8');
  const { statements, problems } = splitApplyCypher(text);
  const errors = problems.map(p => ({ index: -1, statement: '', error: p }));
  for (let i = 0; i < statements.length; i++) {
    try {
      await db.q(statements[i]);
    } catch (e) {
      errors.push({ index: i, statement: statements[i], error: String(e.message).split('\n  in: ')[0] });
    }
  }
  return { statements, errors, text };
}

/** Human text for errors from runApplyCypher, with the data file heads. */
export function describeCypherErrors(errors, outDir) {
  return errors.map(e => {
    let s = `statement #${e.index + 1}: ${e.error}\n  ${e.statement.replaceAll('\n', '\n  ')}`;
    const m = /FROM '([^']+)'/.exec(e.statement);
    if (m && fs.existsSync(m[1])) {
      const data = fs.readFileSync(m[1], 'utf8');
      s += `\n  --- ${path.relative(outDir, m[1])} (${data.length} bytes, head):\n  ${data.slice(0, 1500).replaceAll('\n', '\n  ')}`;
    }
    return s;
  }).join('\n\n');
}

/** Spawns kuzusync asynchronously; returns {child, done: Promise<{code, signal, stderr, ms}>}. */
/** Spawns kuzusync with env overrides; {child, done: Promise<{code, signal, stdout, stderr, cmd, ms, describe()}>}. */
export function spawnKuzusync(args, env = {}) {
  const t0 = process.hrtime.bigint();
  const child = spawn(KUZUSYNC_BIN, args, { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', d => { stdout += d; });
  child.stderr.on('data', d => { stderr += d; });
  const cmd = [KUZUSYNC_BIN, ...args].map(a => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' ');
  const done = new Promise(resolve => {
    child.on('close', (code, signal) => resolve({
      code, signal, stdout, stderr, cmd, ms: Number(process.hrtime.bigint() - t0) / 1e6,
      describe: () => `$ ${cmd}\nexit=${code}${signal ? ' signal=' + signal : ''}\n--- stdout\n${stdout}\n--- stderr\n${stderr}`,
    }));
  });
  return { child, done };
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

/** Flips all bits of the byte at `offset` of `file` (in place). */
export function flipByte(file, offset) {
  const buf = fs.readFileSync(file);
  buf[offset] ^= 0xff;
  fs.writeFileSync(file, buf);
}

/** Truncates `file` to `size` bytes. */
export function truncateFile(file, size) {
  fs.truncateSync(file, size);
}

// ---------------------------------------------------------------- mutations

/**
 * Mutates a tinysnb database: node inserts, updates of many types (emoji
 * string, list, STRUCT, MAP, UNION, BLOB, INTERVAL, UUID), DETACH DELETE,
 * rel inserts (incl. a duplicated rel), rel updates and deletes.
 */
export async function mutateTinysnb(db) {
  // node updates
  await db.q(`MATCH (p:person) WHERE p.ID = 0 SET p.fName = 'Alice 🧘🏻‍♂️🌍 "q", ok'`);
  await db.q(`MATCH (p:person) WHERE p.ID = 2 SET p.usedNames = ['Bobby', 'Robert', 'Bob 😂']`);
  await db.q(`MATCH (p:person) WHERE p.ID = 5 SET p.lastJobDuration = interval('1 year 2 days 3 hours'), p.u = uuid('b0eebc99-9c0b-4ef8-bb6d-6bb9bd380a99')`);
  await db.q(`MATCH (o:organisation) WHERE o.ID = 1 SET o.state = {revenue: 999, location: ['toronto'], stock: {price: [1, 2], volume: 7}}`);
  await db.q(`MATCH (o:organisation) WHERE o.ID = 6 SET o.info = union_value(note := 'moved 🚚')`);
  // another column of a row whose STRUCT holds a string with a comma ("vanco,uver north area")
  await db.q(`MATCH (o:organisation) WHERE o.ID = 4 SET o.score = 1`);
  await db.q(`MATCH (m:movies) WHERE m.name = 'Roma' SET m.audience = map(['x', 'y'], [1, 2])`);
  await db.q(`MATCH (m:movies) WHERE m.name STARTS WITH 'The 😂' SET m.note = 'now with 🍞 and a\nnewline', m.content = BLOB('\\\\xDE\\\\xAD\\\\xBE\\\\xEF bytes')`);
  // node inserts
  await db.q(`CREATE (:person {ID: 100, fName: 'Zoë 🍞', gender: 1, isStudent: true, age: 22, usedNames: ['z', 'zz'], grades: [1, 2, 3, 4], workedHours: [1],
    lastJobDuration: interval('5 days'), u: uuid('c0eebc99-9c0b-4ef8-bb6d-6bb9bd380a00')})`);
  await db.q(`CREATE (:person {ID: 101, fName: 'multi\nline, "quoted"'})`);
  await db.q(`CREATE (:organisation {ID: 50, name: 'NewOrg 🏢', orgCode: 1, state: {revenue: 1, location: ['paris'], stock: {price: [3], volume: 4}}})`);
  // duplicate an existing rel: same from/to/props twice
  await db.q(`MATCH (a:person)-[r:knows]->(b:person) WHERE a.ID = 0 AND b.ID = 3
    CREATE (a)-[:knows {date: r.date, meetTime: r.meetTime, validInterval: r.validInterval, comments: r.comments,
                        summary: r.summary, notes: r.notes, someMap: r.someMap}]->(b)`);
  // node delete with its rels
  await db.q(`MATCH (p:person) WHERE p.ID = 9 DETACH DELETE p`);
  // rel inserts, including two identical new rels
  await db.q(`MATCH (a:person), (b:person) WHERE a.ID = 100 AND b.ID = 10 CREATE (a)-[:knows {date: date('2024-02-29'), comments: ['hi 👋']}]->(b)`);
  await db.q(`MATCH (a:person), (b:person) WHERE a.ID = 101 AND b.ID = 100
    CREATE (a)-[:knows {date: date('2001-01-01')}]->(b), (a)-[:knows {date: date('2001-01-01')}]->(b)`);
  await db.q(`MATCH (a:person), (b:person) WHERE a.ID = 100 AND b.ID = 101 CREATE (a)-[:marries {note: 'twice, "really"'}]->(b)`);
  // rel property updates
  await db.q(`MATCH (a:person)-[r:knows]->(b:person) WHERE a.ID = 2 AND b.ID = 3 SET r.comments = ['changed 🎉']`);
  await db.q(`MATCH (a:person)-[r:studyAt]->(b:organisation) WHERE a.ID = 8 SET r.year = 1999`);
  // rel delete
  await db.q(`MATCH (a:person)-[r:workAt]->(b:organisation) WHERE a.ID = 3 DELETE r`);
}

/**
 * Mutates the generated graph of graphs.mjs buildGenerated: updates (DOUBLE,
 * list, emoji string, NULL <-> '', rows whose bio holds a newline), DETACH
 * DELETE, rel updates and deletes, new nodes and rels, duplicated rels.
 */
export async function mutateGenerated(db) {
  await db.q(`MATCH (u:User) WHERE u.id % 997 = 11 SET u.score = u.score + 1.5`);
  await db.q(`MATCH (u:User) WHERE u.id % 3001 = 2 SET u.tags = list_append(u.tags, 'new')`);
  await db.q(`MATCH (u:User) WHERE u.id % 4999 = 5 SET u.bio = 'new bio 🚀, "q"'`);
  // rows whose bio holds a comma, a quote and a newline: only another column changes
  await db.q(`MATCH (u:User) WHERE u.id % 9700 = 2 SET u.active = NOT u.active`);
  await db.q(`MATCH (u:User) WHERE u.id % 1013 = 0 SET u.bio = CASE WHEN u.bio IS NULL THEN '' ELSE NULL END`);
  await db.q(`MATCH (u:User)-[f:Follows]->(b:User) WHERE u.id % 1300 = 4 SET f.since = f.since + 100`);
  await db.q(`MATCH (u:User)-[f:Follows]->(b:User) WHERE u.id % 1500 = 3 DELETE f`);
  await db.q(`MATCH (u:User) WHERE u.id % 1000 = 6 DETACH DELETE u`);
  await db.q(`MATCH (c:City) WHERE c.name = 'city-7' SET c.pop = 77`);
  await db.q(`UNWIND range(100000, 100049) AS i
    CREATE (:User {id: i, name: 'new' + cast(i AS STRING), score: 0.5, active: true, born: date('2000-01-01'), tags: ['x'], bio: NULL})`);
  await db.q(`MATCH (a:User), (b:User) WHERE a.id >= 100000 AND b.id = (a.id - 100000) * 11
    CREATE (a)-[:Follows {since: 2030, weight: 1.25}]->(b)`);
  await db.q(`MATCH (a:User), (c:City) WHERE a.id >= 100000 AND c.name = 'city-' + cast(a.id % 200 AS STRING)
    CREATE (a)-[:Follows {since: 2031, weight: 2.5}]->(c)`);
  await db.q(`MATCH (a:User)-[f:Follows]->(b:User) WHERE a.id = 1 CREATE (a)-[:Follows {since: f.since, weight: f.weight}]->(b)`);
  await db.q(`MATCH (a:User)-[f:Follows]->(c:City) WHERE a.id = 12 CREATE (a)-[:Follows {since: f.since, weight: f.weight}]->(c)`);
  await db.q(`MATCH (a:User), (b:User) WHERE a.id = 2 AND b.id = 3 CREATE (a)-[:Follows {since: 1999, weight: 0.75}]->(b)`);
}
