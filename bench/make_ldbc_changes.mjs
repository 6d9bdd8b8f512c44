#!/usr/bin/env node
// Makes a changed copy of the LDBC SF0.1 export for bench/push_vs_rsync.sh,
// using real Kuzu (npm kuzu 0.11.3): IMPORT DATABASE the original export into
// a fresh database, EXPORT it unchanged to BASE_DIR, apply a few thousand
// scattered Cypher mutations, then EXPORT DATABASE ... (format='csv') to
// CHANGED_DIR.
//
//   node bench/make_ldbc_changes.mjs [ORIG_DIR] [BASE_DIR] [CHANGED_DIR]
//     defaults: /tmp/kuzusync-bench/ldbc  /tmp/kuzusync-bench/ldbc-base
//               /tmp/kuzusync-bench/ldbc-changed
//
// Why BASE_DIR: IMPORT DATABASE re-runs the COPY statements with
// parallel=true, which stores rows in a different order (2048-row chunks
// swapped), so a re-export is logically identical to ORIG_DIR (kuzusync diff
// exits 0) but not byte-identical. BASE_DIR and CHANGED_DIR come from the
// same database, so their bytes differ only where the mutations are - the
// fair baseline for rsync. ORIG_DIR itself is the "re-ordered" baseline.
//
// Does nothing when CHANGED_DIR/schema.cypher already exists. The mutations
// are deterministic: ids are drawn with a seeded PRNG from id-ordered lists.
// Counts are printed.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import kuzu from 'kuzu';
import { rng } from '../tests/e2e/lib/graphs.mjs';

const args = process.argv.slice(2);
const ORIG = path.resolve(args[0] ?? '/tmp/kuzusync-bench/ldbc');
const BASE = path.resolve(args[1] ?? '/tmp/kuzusync-bench/ldbc-base');
const OUT = path.resolve(args[2] ?? '/tmp/kuzusync-bench/ldbc-changed');

const rand = rng(20261123);
// k distinct elements of arr, in random (deterministic) order.
function sample(arr, k) {
  const a = arr.slice();
  for (let i = 0; i < k; i++) {
    const j = i + Math.floor(rand() * (a.length - i));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a.slice(0, k);
}
const pick = arr => arr[Math.floor(rand() * arr.length)];

async function main() {
  if (fs.existsSync(path.join(OUT, 'schema.cypher'))) {
    console.log(`changed export already exists, skipping (delete ${OUT} to rebuild)`);
    return;
  }
  if (!fs.existsSync(path.join(ORIG, 'schema.cypher'))) {
    throw new Error(`${ORIG} is not an export (run bench/make_ldbc_export.mjs first)`);
  }
  for (const d of [BASE, OUT]) if (fs.existsSync(d)) fs.rmSync(d, { recursive: true, force: true });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kuzusync-ldbc-chg-'));
  const db = new kuzu.Database(path.join(tmp, 'db'), 1024 * 1024 * 1024);
  const conn = new kuzu.Connection(db);
  const run = async (cypher, params) => {
    let r;
    if (params) {
      const ps = await conn.prepare(cypher);
      r = await conn.execute(ps, params);
    } else {
      r = await conn.query(cypher);
    }
    const results = Array.isArray(r) ? r : [r];
    const rows = [];
    for (const x of results) {
      for (const row of await x.getAll()) rows.push(row);
      x.close();
    }
    return rows;
  };
  const ids = async (table, extra = '') =>
    (await run(`MATCH (n:${table}) ${extra} RETURN n.id AS id ORDER BY id`)).map(r => Number(r.id));
  const count = async q => Number((await run(q))[0].c);
  const stats = {};
  const t0 = Date.now();
  try {
    await run(`IMPORT DATABASE '${ORIG}'`);
    const t1 = Date.now();
    console.log(`imported ${ORIG} in ${((t1 - t0) / 1000).toFixed(1)} s`);
    await run(`EXPORT DATABASE '${BASE}' (format='csv')`);
    console.log(`exported unchanged ${BASE} in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
    const tm = Date.now();
    {
      const comments = await ids('Comment');
      const posts = await ids('Post');
      const persons = await ids('Person');
      const forums = await ids('Forum');
      const places = await ids('Place', "WHERE n.label = 'City'");
      const tags = await ids('Tag');

      // Node deletes first (so updates never touch a deleted row).
      const delComments = sample(comments, 300);
      await run('UNWIND $ids AS i MATCH (c:Comment {id: i}) DETACH DELETE c', { ids: delComments });
      stats.comment_deletes = delComments.length;
      const gone = new Set(delComments);
      const live = comments.filter(i => !gone.has(i));

      // Node updates.
      const updC = sample(live, 1000);
      await run(
        "UNWIND $ids AS i MATCH (c:Comment {id: i}) SET c.content = c.content + ' (edited)', c.length = c.length + 9",
        { ids: updC });
      stats.comment_updates = updC.length;
      const updP = sample(posts, 500);
      await run("UNWIND $ids AS i MATCH (p:Post {id: i}) SET p.browserUsed = 'Kuzusync Browser'", { ids: updP });
      stats.post_updates = updP.length;
      const updPer = sample(persons, 200);
      await run(
        "UNWIND $ids AS i MATCH (p:Person {id: i}) SET p.locationIP = '10.0.' + CAST(i % 250 AS STRING) + '.1'",
        { ids: updPer });
      stats.person_updates = updPer.length;

      // Node inserts: new comments replying to random posts, with creator,
      // location and tag rels.
      const maxId = Math.max(comments[comments.length - 1], posts[posts.length - 1]);
      const newC = [];
      for (let k = 0; k < 500; k++) {
        newC.push({
          id: maxId + 1 + k,
          post: pick(posts),
          person: pick(persons),
          place: pick(places),
          tag: pick(tags),
          date: 20121201000000000n + BigInt(k * 1000),
        });
      }
      await run(
        `UNWIND $rows AS r
         MATCH (p:Post {id: r.post}), (a:Person {id: r.person}), (pl:Place {id: r.place}), (t:Tag {id: r.tag})
         CREATE (c:Comment {id: r.id, creationDate: r.date, locationIP: '192.0.2.' + CAST(r.id % 250 AS STRING),
                 browserUsed: 'Firefox', content: 'new comment ' + CAST(r.id AS STRING), length: 20})
         CREATE (c)-[:replyOf_Post]->(p), (c)-[:Comment_hasCreator]->(a),
                (c)-[:Comment_isLocatedIn]->(pl), (c)-[:Comment_hasTag]->(t)`,
        { rows: newC });
      stats.comment_inserts = newC.length;
      stats.comment_insert_rels = newC.length * 4;

      // Rel inserts: new knows edges between random persons (not already linked).
      const knowsPairs = new Set(
        (await run('MATCH (a:Person)-[:knows]->(b:Person) RETURN a.id AS a, b.id AS b')).map(r => `${r.a}:${r.b}`));
      const newKnows = [];
      while (newKnows.length < 500) {
        const a = pick(persons), b = pick(persons);
        if (a === b || knowsPairs.has(`${a}:${b}`)) continue;
        knowsPairs.add(`${a}:${b}`);
        newKnows.push({ a, b, d: 20121201000000000n + BigInt(newKnows.length) });
      }
      await run(
        'UNWIND $rows AS r MATCH (a:Person {id: r.a}), (b:Person {id: r.b}) CREATE (a)-[:knows {creationDate: r.d}]->(b)',
        { rows: newKnows });
      stats.knows_inserts = newKnows.length;

      // Rel inserts: new likes on posts.
      const newLikes = [];
      for (let k = 0; k < 500; k++) newLikes.push({ a: pick(persons), p: pick(posts), d: 20121202000000000n + BigInt(k) });
      await run(
        'UNWIND $rows AS r MATCH (a:Person {id: r.a}), (p:Post {id: r.p}) CREATE (a)-[:likes_Post {creationDate: r.d}]->(p)',
        { rows: newLikes });
      stats.likes_Post_inserts = newLikes.length;

      // Rel deletes: likes on comments, picked by distinct (person, comment)
      // pair (INT64 dates come back to JS as lossy Numbers, so never
      // round-trip them; all rels of a picked pair go, counted in Cypher).
      const likeCount = 'MATCH ()-[l:likes_Comment]->() RETURN count(*) AS c';
      const likes0 = await count(likeCount);
      const likes = await run(
        'MATCH (a:Person)-[:likes_Comment]->(c:Comment) RETURN DISTINCT a.id AS a, c.id AS c ORDER BY a, c');
      const delLikes = sample(likes, 300).map(r => ({ a: Number(r.a), c: Number(r.c) }));
      await run(
        'UNWIND $rows AS r MATCH (a:Person {id: r.a})-[l:likes_Comment]->(c:Comment {id: r.c}) DELETE l',
        { rows: delLikes });
      stats.likes_Comment_deletes = likes0 - (await count(likeCount));

      // Rel updates: hasMember joinDate, picked by distinct (forum, person).
      const members = await run(
        'MATCH (f:Forum)-[:hasMember]->(p:Person) RETURN DISTINCT f.id AS f, p.id AS p ORDER BY f, p');
      const updM = sample(members, 300).map(r => ({ f: Number(r.f), p: Number(r.p) }));
      const upd = await run(
        `UNWIND $rows AS r MATCH (f:Forum {id: r.f})-[m:hasMember]->(p:Person {id: r.p})
         SET m.joinDate = m.joinDate + 1000 RETURN count(*) AS c`,
        { rows: updM });
      stats.hasMember_updates = Number(upd[0].c);

      // New forum (node insert) with moderator + members.
      const fid = forums[forums.length - 1] + 1;
      const mem = sample(persons, 20);
      await run(
        `CREATE (f:Forum {id: $fid, title: 'Kuzusync bench forum', creationDate: 20121203000000000})`,
        { fid });
      await run(
        'UNWIND $ps AS i MATCH (f:Forum {id: $fid}), (p:Person {id: i}) CREATE (f)-[:hasMember {joinDate: 20121203000000001}]->(p)',
        { ps: mem, fid });
      await run('MATCH (f:Forum {id: $fid}), (p:Person {id: $p}) CREATE (f)-[:hasModerator]->(p)', { fid, p: mem[0] });
      stats.forum_inserts = 1;
      stats.forum_rel_inserts = mem.length + 1;

      let total = 0;
      for (const v of Object.values(stats)) total += v;
      stats.total_row_ops_excluding_detach_cascade = total;
      console.log(`mutated in ${((Date.now() - tm) / 1000).toFixed(1)} s: ${JSON.stringify(stats)}`);
      console.log(`  Comment rows now: ${await count('MATCH (c:Comment) RETURN count(*) AS c')}`);
    }
    const t2 = Date.now();
    await run(`EXPORT DATABASE '${OUT}' (format='csv')`);
    console.log(`exported ${OUT} in ${((Date.now() - t2) / 1000).toFixed(1)} s`);
  } finally {
    await conn.close();
    await db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
