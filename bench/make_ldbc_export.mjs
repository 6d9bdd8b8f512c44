#!/usr/bin/env node
// Loads the LDBC SF0.1 dataset that ships with npm kuzu into a fresh Kuzu
// database and exports it with EXPORT DATABASE ... (format='csv'): the
// realistic input for bench/hash_vs_b2sum.sh.
//
//   node bench/make_ldbc_export.mjs [OUT_DIR]     (default /tmp/kuzusync-bench/ldbc)
//
// Does nothing (but print the size) when OUT_DIR/schema.cypher and
// OUT_DIR/copy.cypher already exist. The source CSVs are '|'-delimited with
// a header line (Neo4j-style typed names, e.g. "id:ID(Comment)"), and the
// dataset's copy.cypher gives no options, so the COPY lines are rewritten
// with absolute paths and (header=true, delim='|').
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import kuzu from 'kuzu';

const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const KUZU_SOURCE = path.join(REPO, 'node_modules', 'kuzu', 'kuzu-source');
const DATASET = path.join(KUZU_SOURCE, 'dataset', 'ldbc-sf01');
const OUT = path.resolve(process.argv[2] ?? '/tmp/kuzusync-bench/ldbc');

function dirBytes(dir) {
  let total = 0;
  let csv = 0;
  let files = 0;
  for (const name of fs.readdirSync(dir)) {
    const st = fs.statSync(path.join(dir, name));
    if (!st.isFile()) continue;
    total += st.size;
    files += 1;
    if (name.endsWith('.csv')) csv += st.size;
  }
  return { total, csv, files };
}

function report(dir) {
  const { total, csv, files } = dirBytes(dir);
  const mb = b => (b / 1e6).toFixed(1);
  console.log(`export: ${dir}: ${files} files, ${mb(total)} MB total, ${mb(csv)} MB of CSV (${csv} bytes)`);
}

function splitStatements(text) {
  return text
    .split(';')
    .map(s => s.trim())
    .filter(s => s.length > 0);
}

async function main() {
  if (fs.existsSync(path.join(OUT, 'schema.cypher')) && fs.existsSync(path.join(OUT, 'copy.cypher'))) {
    console.log(`export already exists, skipping (delete ${OUT} to rebuild)`);
    report(OUT);
    return;
  }
  if (fs.existsSync(OUT)) {
    // A half-written export from an interrupted run: Kuzu refuses to export into an existing dir.
    fs.rmSync(OUT, { recursive: true, force: true });
  }
  fs.mkdirSync(path.dirname(OUT), { recursive: true });

  const schema = splitStatements(fs.readFileSync(path.join(DATASET, 'schema.cypher'), 'utf8'));
  const copies = splitStatements(fs.readFileSync(path.join(DATASET, 'copy.cypher'), 'utf8')).map(stmt => {
    const m = stmt.match(/^COPY\s+(\S+)\s+FROM\s+"([^"]+)"\s*(\(.*\))?$/is);
    if (!m) throw new Error(`unexpected COPY statement: ${stmt}`);
    const [, table, rel, opts] = m;
    if (opts) throw new Error(`COPY already has options, not rewriting: ${stmt}`);
    const abs = path.isAbsolute(rel) ? rel : path.join(KUZU_SOURCE, rel);
    if (!fs.existsSync(abs)) throw new Error(`missing dataset file ${abs}`);
    return `COPY ${table} FROM "${abs}" (header=true, delim='|')`;
  });

  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'kuzusync-ldbc-'));
  const db = new kuzu.Database(path.join(tmp, 'db'), 1024 * 1024 * 1024);
  const conn = new kuzu.Connection(db);
  const run = async cypher => {
    const r = await conn.query(cypher);
    const results = Array.isArray(r) ? r : [r];
    const rows = [];
    for (const x of results) {
      rows.push(...(await x.getAll()));
      x.close();
    }
    return rows;
  };
  const t0 = Date.now();
  try {
    for (const stmt of schema) await run(stmt);
    for (const stmt of copies) await run(stmt);
    const t1 = Date.now();
    console.log(`loaded ${copies.length} COPY statements in ${((t1 - t0) / 1000).toFixed(1)} s`);
    for (const table of ['Comment', 'Post', 'Person', 'Forum']) {
      const rows = await run(`MATCH (n:${table}) RETURN count(*) AS c`);
      console.log(`  ${table}: ${Number(rows[0].c)} rows`);
    }
    for (const rel of ['likes_Comment', 'hasMember', 'knows']) {
      const rows = await run(`MATCH ()-[r:${rel}]->() RETURN count(*) AS c`);
      console.log(`  ${rel}: ${Number(rows[0].c)} rels`);
    }
    await run(`EXPORT DATABASE '${OUT}' (format='csv')`);
    console.log(`exported in ${((Date.now() - t1) / 1000).toFixed(1)} s`);
  } finally {
    await conn.close();
    await db.close();
    fs.rmSync(tmp, { recursive: true, force: true });
  }
  report(OUT);
}

main().catch(err => {
  console.error(err);
  process.exit(1);
});
