// Export directories for the transfer e2e tests, built once from real Kuzu
// databases and shared read-only (each test copies what it changes).
//
//  people.base  buildPeople (200 users, 10 cities)
//  people.a     base + A's changes (updates, inserts, a DETACH DELETE, rel edits)
//  people.b     base + B's own changes (rows only B has, an update A does not make)
//  gen.base     buildGenerated (~120k rows)
//  gen.a        gen.base + mutateGenerated (the big change set)
//  gen.a1..a3   gen.base + 100 new users (disjoint id ranges) with new rels each
//  tiny.base    Kuzu's tinysnb dataset
//  tiny.a       tinysnb + mutateTinysnb (every Kuzu type, newlines, emoji)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openDb, loadTinysnb } from './kuzu.mjs';
import { buildPeople, buildGenerated } from './graphs.mjs';
import { mutateGenerated, mutateTinysnb } from './bundle-helpers.mjs';

/** Builds one database, closes it, copies its file: two databases with the same content. */
async function twin(dir, build) {
  const p1 = path.join(dir, 'db1');
  const p2 = path.join(dir, 'db2');
  const first = await openDb(p1);
  await build(first, dir);
  await first.close();
  fs.copyFileSync(p1, p2);
  return [await openDb(p1), await openDb(p2)];
}

async function buildPeopleFixture(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const [a, b] = await twin(dir, (db, d) => buildPeople(db, d));
  try {
    const base = await a.exportCsv(path.join(dir, 'base'));
    await a.q(`MATCH (u:User) WHERE u.age = 20 SET u.age = 99`);
    await a.q(`MATCH (u:User {name: 'user-0003'}) DETACH DELETE u`);
    await a.q(`UNWIND range(0, 19) AS i CREATE (:User {name: 'a-new-' + cast(i AS STRING), age: i, note: 'from A, "q" 🚀'})`);
    await a.q(`MATCH (x:User), (y:User) WHERE x.name STARTS WITH 'a-new-' AND y.name = 'user-0001' CREATE (x)-[:Follows {since: 2024}]->(y)`);
    await a.q(`MATCH (x:User {name: 'a-new-0'}), (c:City {name: 'city-3'}) CREATE (x)-[:LivesIn {since: 2024}]->(c)`);
    await a.q(`MATCH (x:City {name: 'city-3'}), (c:City {name: 'city-4'}) CREATE (x)-[:LivesIn {since: 7}]->(c)`);
    await a.q(`MATCH (u:User)-[f:Follows]->(:User) WHERE u.name = 'user-0010' SET f.since = 1`);
    const exA = await a.exportCsv(path.join(dir, 'a'));
    await b.q(`UNWIND range(0, 9) AS i CREATE (:User {name: 'b-only-' + cast(i AS STRING), age: 30, note: 'only B'})`);
    await b.q(`MATCH (x:User), (y:User) WHERE x.name STARTS WITH 'b-only-' AND y.name = 'user-0002' CREATE (x)-[:Follows {since: 1999}]->(y)`);
    await b.q(`MATCH (u:User {name: 'user-0007'}) SET u.note = 'edited in B'`);
    await b.q(`MATCH (x:User {name: 'user-0011'}), (y:User {name: 'user-0012'}) CREATE (x)-[:Follows {since: 5}]->(y)`);
    const exB = await b.exportCsv(path.join(dir, 'b'));
    return { base, a: exA, b: exB };
  } finally {
    await a.close();
    await b.close();
  }
}

async function addUsers(db, from, tag) {
  await db.q(`UNWIND range(${from}, ${from + 99}) AS i
    CREATE (:User {id: i, name: '${tag}-' + cast(i AS STRING), score: 1.5, active: false, born: date('2001-02-03'), tags: ['${tag}'], bio: '${tag}, new'})`);
  await db.q(`MATCH (a:User), (b:User) WHERE a.id >= ${from} AND a.id < ${from + 100} AND b.id = (a.id - ${from}) * 13
    CREATE (a)-[:Follows {since: 2040, weight: 0.5}]->(b)`);
  await db.q(`MATCH (a:User), (c:City) WHERE a.id >= ${from} AND a.id < ${from + 100} AND c.name = 'city-' + cast(a.id % 200 AS STRING)
    CREATE (a)-[:Follows {since: 2041, weight: 1.5}]->(c)`);
}

async function buildGenFixture(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const db = await openDb(path.join(dir, 'db'));
  try {
    await buildGenerated(db, dir);
    const out = { base: await db.exportCsv(path.join(dir, 'base')) };
    for (const [name, from] of [['a1', 200000], ['a2', 300000], ['a3', 400000]]) {
      await addUsers(db, from, name);
      out[name] = await db.exportCsv(path.join(dir, name));
      await db.q(`MATCH (u:User) WHERE u.id >= ${from} AND u.id < ${from + 100} DETACH DELETE u`);
    }
    await mutateGenerated(db);
    out.a = await db.exportCsv(path.join(dir, 'a'));
    return out;
  } finally {
    await db.close();
  }
}

async function buildTinyFixture(dir) {
  fs.mkdirSync(dir, { recursive: true });
  const db = await openDb(path.join(dir, 'db'));
  try {
    await loadTinysnb(db);
    const base = await db.exportCsv(path.join(dir, 'base'));
    await mutateTinysnb(db);
    const a = await db.exportCsv(path.join(dir, 'a'));
    return { base, a };
  } finally {
    await db.close();
  }
}

let fixtureDir = null;
const cache = {};

function root() {
  if (!fixtureDir) fixtureDir = fs.mkdtempSync(path.join(os.tmpdir(), 'kuzusync-e2e-transfer-fx-'));
  return fixtureDir;
}

const lazy = (name, build) => () => (cache[name] ??= build(path.join(root(), name)));

export const peopleFixture = lazy('people', buildPeopleFixture);
export const genFixture = lazy('gen', buildGenFixture);
export const tinyFixture = lazy('tiny', buildTinyFixture);

/** Removes the shared fixture directory. */
export function removeFixtures() {
  if (fixtureDir) fs.rmSync(fixtureDir, { recursive: true, force: true });
  fixtureDir = null;
  for (const k of Object.keys(cache)) delete cache[k];
}
