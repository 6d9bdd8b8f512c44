// Graph builders for the e2e tests (all content deterministic).
import path from 'node:path';
import { writeCsv } from './kuzu.mjs';

/** Small deterministic PRNG (mulberry32). */
export function rng(seed) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export const userKey = i => `user-${String(i).padStart(4, '0')}`;

/**
 * "people" graph: User(name STRING PK, age INT64, note STRING),
 * City(name STRING PK, pop INT64), Follows(FROM User TO User, since INT64),
 * LivesIn(FROM User TO City, FROM City TO City, since INT64) (two FROM/TO pairs).
 */
export async function buildPeople(db, dir, { users = 200, cities = 10 } = {}) {
  const f = name => path.join(dir, name);
  const userRows = [];
  for (let i = 0; i < users; i++) userRows.push([userKey(i), 18 + (i % 60), i % 7 === 0 ? null : `note ${i}`]);
  const cityRows = [];
  for (let j = 0; j < cities; j++) cityRows.push([`city-${j}`, 1000 * j]);
  const follows = [];
  for (let i = 0; i < users; i++) follows.push([userKey(i), userKey((i * 7 + 3) % users), 2000 + (i % 20)]);
  const livesUC = [];
  for (let i = 0; i < users; i++) livesUC.push([userKey(i), `city-${i % cities}`, 1990]);
  const livesCC = [['city-1', 'city-2', 1]];
  writeCsv(f('people_users.csv'), userRows);
  writeCsv(f('people_cities.csv'), cityRows);
  writeCsv(f('people_follows.csv'), follows);
  writeCsv(f('people_lives_uc.csv'), livesUC);
  writeCsv(f('people_lives_cc.csv'), livesCC);
  await db.run(`
    CREATE NODE TABLE User(name STRING, age INT64, note STRING, PRIMARY KEY(name));
    CREATE NODE TABLE City(name STRING, pop INT64, PRIMARY KEY(name));
    CREATE REL TABLE Follows(FROM User TO User, since INT64);
    CREATE REL TABLE LivesIn(FROM User TO City, FROM City TO City, since INT64);
  `);
  await db.q(`COPY User FROM '${f('people_users.csv')}'`);
  await db.q(`COPY City FROM '${f('people_cities.csv')}'`);
  await db.q(`COPY Follows FROM '${f('people_follows.csv')}'`);
  await db.q(`COPY LivesIn FROM '${f('people_lives_uc.csv')}' (from='User', to='City')`);
  await db.q(`COPY LivesIn FROM '${f('people_lives_cc.csv')}' (from='City', to='City')`);
}

/**
 * Generated graph of ~120k rows, loaded with COPY from CSVs written to `dir`:
 * User(id INT64 PK, name, score DOUBLE, active BOOL, born DATE, tags STRING[], bio STRING)
 * City(name STRING PK, pop INT64)
 * Follows(FROM User TO User, FROM User TO City, since INT64, weight DOUBLE)
 */
export async function buildGenerated(db, dir, { users = 60000, cities = 200, uu = 50000, uc = 10000 } = {}) {
  const userRows = [];
  const day0 = Date.UTC(1950, 0, 1);
  for (let i = 0; i < users; i++) {
    const born = new Date(day0 + (i % 20000) * 86400000).toISOString().slice(0, 10);
    const tags = i % 11 === 0 ? '[]' : `[t${i % 5},t${i % 7}]`;
    let bio = `bio ${i}`;
    if (i % 10 === 0) bio = null;
    else if (i % 97 === 2) bio = `has, comma "quote"\nand newline ${i}`;
    userRows.push([i, `name${i}`, (i * 37 % 1000) / 8, i % 3 === 0 ? 'true' : 'false', born, tags, bio]);
  }
  const cityRows = [];
  for (let j = 0; j < cities; j++) cityRows.push([`city-${j}`, j * 1000 + 1]);
  const uuRows = [];
  for (let i = 0; i < uu; i++) uuRows.push([i, (i * 7 + 13) % users, 2000 + (i % 25), (i % 16) / 4]);
  const ucRows = [];
  for (let i = 0; i < uc; i++) ucRows.push([(i * 6) % users, `city-${i % cities}`, 1980 + (i % 30), (i % 8) / 2]);
  const f = name => path.join(dir, name);
  writeCsv(f('gen_users.csv'), userRows);
  writeCsv(f('gen_cities.csv'), cityRows);
  writeCsv(f('gen_uu.csv'), uuRows);
  writeCsv(f('gen_uc.csv'), ucRows);
  await db.run(`
    CREATE NODE TABLE User(id INT64, name STRING, score DOUBLE, active BOOLEAN, born DATE, tags STRING[], bio STRING, PRIMARY KEY(id));
    CREATE NODE TABLE City(name STRING, pop INT64, PRIMARY KEY(name));
    CREATE REL TABLE Follows(FROM User TO User, FROM User TO City, since INT64, weight DOUBLE);
  `);
  await db.q(`COPY User FROM '${f('gen_users.csv')}' (parallel=false)`);
  await db.q(`COPY City FROM '${f('gen_cities.csv')}'`);
  await db.q(`COPY Follows FROM '${f('gen_uu.csv')}' (from='User', to='User')`);
  await db.q(`COPY Follows FROM '${f('gen_uc.csv')}' (from='User', to='City')`);
  // Kuzu's CSV reader turns "" into NULL; set real empty strings with SET.
  await db.q(`MATCH (u:User) WHERE u.id % 10 = 1 SET u.bio = ''`);
  return users + cities + uu + uc;
}
