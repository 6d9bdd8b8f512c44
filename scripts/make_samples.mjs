#!/usr/bin/env node
// Builds two small sample replicas with the real Kuzu engine (npm kuzu) and
// exports them with (format='csv') to tests/fixtures/sample/siteA and siteB.
// siteB = siteA plus a handful of node inserts/updates/deletes and rel changes.
// Also writes tests/fixtures/sample/expected.json: the per-table counts that the
// mutations imply (what `kuzusync diff siteA siteB --json` should report).
//
//   node scripts/make_samples.mjs
//
// Content is deterministic (seeded PRNG, single-threaded export), so re-running
// reproduces the same files.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kuzu from 'kuzu';
import { rng } from '../tests/e2e/lib/graphs.mjs';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const OUT = path.join(REPO, 'tests', 'fixtures', 'sample');


function csvField(v) {
  if (v === null || v === undefined) return '';
  const s = String(v);
  return s === '' || /[",\n\r]/.test(s) ? '"' + s.replaceAll('"', '""') + '"' : s;
}
const writeCsv = (file, rows) => fs.writeFileSync(file, rows.map(r => r.map(csvField).join(',') + '\n').join(''));

const FIRST = ['Ada', 'Bo', 'Chen', 'Dana', 'Eli', 'Fay', 'Gus', 'Hana', 'Ivo', 'Jun', 'Kai', 'Lea', 'Mo', 'Noor', 'Oli', 'Pia'];
const LAST = ['Smith', 'García', 'Nguyen', 'Müller', 'Rossi', 'Kowalski', 'Sato', 'Okafor', 'Silva', 'Dubois'];
const COUNTRIES = ['CA', 'FR', 'JP', 'BR', 'NG', 'DE'];
const N_PERSON = 240;
const N_CITY = 24;

async function main() {
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kuzusync-samples-'));
  const db = new kuzu.Database(path.join(tmp, 'db'), 256 * 1024 * 1024);
  const conn = new kuzu.Connection(db);
  conn.setMaxNumThreadForExec(1); // stable export row order
  const q = async cypher => {
    const r = await conn.query(cypher);
    const rows = await r.getAll();
    r.close();
    return rows;
  };
  const count = async cypher => Number(Object.values((await q(cypher))[0])[0]);
  try {
    const rand = rng(20240601);
    const pick = a => a[Math.floor(rand() * a.length)];

    const persons = [];
    for (let i = 0; i < N_PERSON; i++) {
      const name = `${pick(FIRST)} ${pick(LAST)}`;
      const email = i % 9 === 4 ? null : `p${i}@example.org`;
      const day = new Date(Date.UTC(2015, 0, 1) + Math.floor(rand() * 3000) * 86400000).toISOString().slice(0, 10);
      const tags = i % 6 === 0 ? '[]' : `[${pick(['hiking', 'chess', 'jazz', 'go', 'rust'])},${pick(['cats', 'dogs', 'tea'])}]`;
      persons.push([i, name, email, 18 + Math.floor(rand() * 60), (Math.floor(rand() * 10000) / 100).toFixed(2), day, tags, rand() < 0.5 ? 'true' : 'false']);
    }
    const cities = [];
    for (let j = 0; j < N_CITY; j++) cities.push([`City ${String.fromCharCode(65 + j)}`, COUNTRIES[j % COUNTRIES.length], 10000 + j * 7919]);
    const knows = [];
    const seen = new Set();
    while (knows.length < 400) {
      const a = Math.floor(rand() * N_PERSON);
      const b = Math.floor(rand() * N_PERSON);
      if (a === b || seen.has(`${a}-${b}`)) continue;
      seen.add(`${a}-${b}`);
      knows.push([a, b, 2000 + Math.floor(rand() * 24), (Math.floor(rand() * 100) / 4).toFixed(2), rand() < 0.2 ? null : pick(['work', 'school', 'gym', 'online'])]);
    }
    const livesIn = persons.map(p => [p[0], cities[p[0] % N_CITY][0], `20${String(10 + (p[0] % 14)).padStart(2, '0')}-0${1 + (p[0] % 9)}-15`]);
    const likesPP = [];
    const likesPC = [];
    for (let i = 0; i < 60; i++) likesPP.push([i * 3, (i * 3 + 1) % N_PERSON, 1 + (i % 5)]);
    for (let i = 0; i < 60; i++) likesPC.push([i * 4, cities[i % N_CITY][0], 1 + (i % 5)]);

    const f = n => path.join(tmp, n);
    writeCsv(f('person.csv'), persons);
    writeCsv(f('city.csv'), cities);
    writeCsv(f('knows.csv'), knows);
    writeCsv(f('lives.csv'), livesIn);
    writeCsv(f('likes_pp.csv'), likesPP);
    writeCsv(f('likes_pc.csv'), likesPC);

    for (const s of [
      'CREATE NODE TABLE Person(id INT64, name STRING, email STRING, age INT64, score DOUBLE, joined DATE, tags STRING[], active BOOLEAN, PRIMARY KEY(id))',
      'CREATE NODE TABLE City(name STRING, country STRING, population INT64, PRIMARY KEY(name))',
      'CREATE REL TABLE Knows(FROM Person TO Person, since INT64, weight DOUBLE, note STRING)',
      'CREATE REL TABLE LivesIn(FROM Person TO City, since DATE, MANY_ONE)',
      'CREATE REL TABLE Likes(FROM Person TO Person, FROM Person TO City, stars INT64)',
      `COPY Person FROM '${f('person.csv')}'`,
      `COPY City FROM '${f('city.csv')}'`,
      `COPY Knows FROM '${f('knows.csv')}'`,
      `COPY LivesIn FROM '${f('lives.csv')}'`,
      `COPY Likes FROM '${f('likes_pp.csv')}' (from='Person', to='Person')`,
      `COPY Likes FROM '${f('likes_pc.csv')}' (from='Person', to='City')`,
      // awkward strings: comma, quote, newline, emoji; an empty string distinct from NULL
      `MATCH (p:Person) WHERE p.id = 7 SET p.name = 'O\\'Brien, "Bob"\nsecond line'`,
      `MATCH (p:Person) WHERE p.id = 8 SET p.email = ''`,
      `MATCH (p:Person) WHERE p.id = 10 SET p.name = 'Zoë 🌍 Ångström'`,
      `MATCH (:Person {id: 1})-[k:Knows]->() SET k.note = 'met at "the, café"'`,
    ]) await q(s);

    const siteA = path.join(OUT, 'siteA');
    const siteB = path.join(OUT, 'siteB');
    fs.rmSync(siteA, { recursive: true, force: true });
    fs.rmSync(siteB, { recursive: true, force: true });
    fs.mkdirSync(OUT, { recursive: true });
    await q(`EXPORT DATABASE '${siteA}' (format='csv')`);

    // ---- siteB: a handful of changes
    const del = [3, 50, 111];
    const relsOf = async label => count(`MATCH (p:Person)-[r:${label}]-() WHERE p.id IN [${del.join(',')}] RETURN count(DISTINCT ID(r))`);
    const gone = { Knows: await relsOf('Knows'), LivesIn: await relsOf('LivesIn'), Likes: await relsOf('Likes') };
    const knowsDel = await count(`MATCH (a:Person)-[k:Knows]->(b:Person) WHERE a.id IN [20, 21, 22] AND NOT a.id IN [${del}] AND NOT b.id IN [${del}] RETURN count(*)`);
    const knowsUpd = await count(`MATCH (a:Person)-[k:Knows]->(b:Person) WHERE a.id IN [30, 31] AND NOT b.id IN [${del}] RETURN count(*)`);
    const knowsDup = await count(`MATCH (a:Person)-[k:Knows]->(b:Person) WHERE a.id = 40 AND NOT b.id IN [${del}] RETURN count(*)`);
    const changes = [
      `MATCH (p:Person) WHERE p.id IN [${del}] DETACH DELETE p`,
      `CREATE (:Person {id: 1000, name: 'New, "Person"', email: NULL, age: 30, score: 1.5, joined: date('2024-05-01'), tags: ['new'], active: true})`,
      `CREATE (:Person {id: 1001, name: 'Multi\nline', email: 'm@example.org', age: 31, active: false})`,
      `CREATE (:Person {id: 1002, name: 'Émilie', email: '', age: 32, tags: []})`,
      `CREATE (:City {name: 'City, New', country: 'PT', population: 42})`,
      `MATCH (p:Person) WHERE p.id = 4 SET p.email = 'was-null@example.org'`,
      `MATCH (p:Person) WHERE p.id = 5 SET p.age = p.age + 1`,
      `MATCH (p:Person) WHERE p.id = 6 SET p.tags = list_append(p.tags, 'added')`,
      `MATCH (p:Person) WHERE p.id = 8 SET p.email = NULL`,
      `MATCH (p:Person) WHERE p.id = 9 SET p.name = 'Renamed, "again"'`,
      `MATCH (c:City) WHERE c.name = 'City B' SET c.population = c.population + 1`,
      `MATCH (a:Person)-[k:Knows]->(b:Person) WHERE a.id IN [20, 21, 22] DELETE k`,
      `MATCH (a:Person)-[k:Knows]->(b:Person) WHERE a.id IN [30, 31] SET k.since = k.since + 100`,
      `MATCH (a:Person)-[k:Knows]->(b:Person) WHERE a.id = 40 CREATE (a)-[:Knows {since: k.since, weight: k.weight, note: k.note}]->(b)`,
      `MATCH (a:Person), (b:Person) WHERE a.id = 1000 AND b.id IN [1, 2] CREATE (a)-[:Knows {since: 2024, weight: 0.25, note: NULL}]->(b)`,
      `MATCH (a:Person), (c:City) WHERE a.id IN [1000, 1001] AND c.name = 'City, New' CREATE (a)-[:LivesIn {since: date('2024-06-01')}]->(c)`,
      `MATCH (a:Person), (c:City) WHERE a.id = 1002 AND c.name = 'City A' CREATE (a)-[:Likes {stars: 5}]->(c)`,
      `MATCH (a:Person), (b:Person) WHERE a.id = 1002 AND b.id = 1000 CREATE (a)-[:Likes {stars: 4}]->(b)`,
      `MATCH (a:Person)-[l:Likes]->(c:City) WHERE a.id = 0 SET l.stars = l.stars + 10`,
    ];
    const likesUpd = await count(`MATCH (a:Person)-[l:Likes]->(c:City) WHERE a.id = 0 RETURN count(*)`);
    for (const s of changes) await q(s);
    await q(`EXPORT DATABASE '${siteB}' (format='csv')`);

    const expected = {
      note: 'Counts implied by the mutations in scripts/make_samples.mjs for `kuzusync diff siteA siteB --json`.',
      identical: false,
      tables: {
        Person: { kind: 'node', only_in_a: del.length, only_in_b: 3, changed: 5 },
        City: { kind: 'node', only_in_a: 0, only_in_b: 1, changed: 1 },
        Knows: { kind: 'rel', only_in_a: gone.Knows + knowsDel + knowsUpd, only_in_b: knowsUpd + knowsDup + 2, changed: 0 },
        LivesIn: { kind: 'rel', only_in_a: gone.LivesIn, only_in_b: 2, changed: 0 },
        Likes: { kind: 'rel', only_in_a: gone.Likes + likesUpd, only_in_b: likesUpd + 2, changed: 0 },
      },
    };
    for (const [name, t] of Object.entries(expected.tables)) {
      const pat = t.kind === 'node' ? `(x:${name})` : `()-[x:${name}]->()`;
      // rows in siteB now; rows_a = rows_b + only_in_a - only_in_b
      t.rows_b = await count(`MATCH ${pat} RETURN count(*)`);
      t.rows_a = t.rows_b + t.only_in_a - t.only_in_b;
    }
    fs.writeFileSync(path.join(OUT, 'expected.json'), JSON.stringify(expected, null, 2) + '\n');

    let total = 0;
    for (const d of [siteA, siteB]) for (const n of fs.readdirSync(d)) total += fs.statSync(path.join(d, n)).size;
    console.log(`wrote ${siteA} and ${siteB} (${total} bytes) and expected.json`);
  } finally {
    await conn.close();
    await db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

await main();
