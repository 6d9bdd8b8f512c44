// Helpers for the kuzusync end-to-end tests: temp dirs, real Kuzu databases
// (npm `kuzu`, the official Node binding), CSV exports, and running the CLI.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import kuzu from 'kuzu';

const here = path.dirname(fileURLToPath(import.meta.url));
export const REPO = path.resolve(here, '..', '..', '..');
export const KUZU_DATASETS = path.join(REPO, 'node_modules', 'kuzu', 'kuzu-source', 'dataset');
export const TINYSNB = path.join(KUZU_DATASETS, 'tinysnb');
export const KUZUSYNC_BIN = process.env.KUZUSYNC_BIN
  ? path.resolve(process.env.KUZUSYNC_BIN)
  : path.join(REPO, 'build', 'src', 'kuzusync');

// Buffer pool per test database: small graphs only, keep memory modest.
const BUFFER_POOL = 256 * 1024 * 1024;

// ---------------------------------------------------------------- temp dirs

// dir -> cleanup callbacks that must run before the dir is removed (closing databases)
const closers = new Map();

/**
 * A fresh directory under os.tmpdir(). When `t` is given, t.after() closes the
 * databases opened in it (newDb) and then removes it.
 */
export function tempDir(t, prefix = 'kuzusync-e2e-') {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  closers.set(dir, []);
  if (t) {
    t.after(async () => {
      for (const close of closers.get(dir).reverse()) await close().catch(() => {});
      closers.delete(dir);
      fs.rmSync(dir, { recursive: true, force: true });
    });
  }
  return dir;
}

/** Copies an export directory (flat: only files) to `dst` (must not exist). */
export function copyDir(src, dst) {
  fs.cpSync(src, dst, { recursive: true });
  return dst;
}

// ---------------------------------------------------------------- cypher

/**
 * Splits a multi-statement Cypher text on ';' outside quotes, backticks and
 * comments. Returns trimmed, non-empty statements (without the ';').
 */
export function splitCypher(text) {
  const out = [];
  let cur = '';
  let i = 0;
  while (i < text.length) {
    const ch = text[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < text.length) {
        if (text[j] === '\\' && ch !== '`') { j += 2; continue; }
        if (text[j] === ch) {
          if (text[j + 1] === ch) { j += 2; continue; } // doubled quote
          break;
        }
        j++;
      }
      cur += text.slice(i, j + 1);
      i = j + 1;
      continue;
    }
    if (ch === '/' && text[i + 1] === '/') {
      const nl = text.indexOf('\n', i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    if (ch === '/' && text[i + 1] === '*') {
      const end = text.indexOf('*/', i + 2);
      i = end < 0 ? text.length : end + 2;
      continue;
    }
    if (ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
      i++;
      continue;
    }
    cur += ch;
    i++;
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** An open Kuzu database with a connection and small helpers. */
export class Db {
  constructor(dbPath) {
    this.path = dbPath;
    this.db = new kuzu.Database(dbPath, BUFFER_POOL);
    this.conn = new kuzu.Connection(this.db);
  }

  /** Runs one statement, returns its rows (array of objects). */
  async q(cypher) {
    let res;
    try {
      res = await this.conn.query(cypher);
    } catch (e) {
      e.message = `${e.message}\n  in: ${cypher.slice(0, 500)}`;
      throw e;
    }
    const results = Array.isArray(res) ? res : [res];
    let rows = [];
    for (const r of results) {
      rows = await r.getAll();
      r.close();
    }
    return rows;
  }

  /** Runs a multi-statement Cypher text, one statement at a time. */
  async run(text) {
    for (const s of splitCypher(text)) await this.q(s);
  }

  /** Single scalar from the first column of the first row. */
  async scalar(cypher) {
    const rows = await this.q(cypher);
    return rows.length ? Object.values(rows[0])[0] : undefined;
  }

  /** EXPORT DATABASE dir (format='csv'). `dir` must not exist yet. */
  async exportCsv(dir) {
    await this.q(`EXPORT DATABASE '${dir.replaceAll("'", "\\'")}' (format='csv')`);
    return dir;
  }

  /** EXPORT DATABASE dir with Kuzu's default format (Parquet in 0.11.3). */
  async exportDefault(dir) {
    await this.q(`EXPORT DATABASE '${dir.replaceAll("'", "\\'")}'`);
    return dir;
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    await this.conn.close();
    await this.db.close();
  }
}

/** Opens (creates) a database at `dbPath`. */
export async function openDb(dbPath) {
  const db = new Db(dbPath);
  await db.db.init();
  await db.conn.init();
  return db;
}

/**
 * Creates a new database in subdir `name` of `dir`. It is closed before `dir`
 * is removed when `dir` came from tempDir(t); otherwise by t.after().
 */
export async function newDb(t, dir, name = 'db') {
  const db = await openDb(path.join(dir, name));
  if (closers.has(dir)) closers.get(dir).push(() => db.close());
  else if (t) t.after(() => db.close().catch(() => {}));
  return db;
}

/** Loads Kuzu's tinysnb test dataset (every Kuzu type) into `db`. */
export async function loadTinysnb(db) {
  for (const f of ['schema.cypher', 'copy.cypher']) {
    const text = fs.readFileSync(path.join(TINYSNB, f), 'utf8');
    for (const s of splitCypher(text)) {
      await db.q(s.replaceAll('"dataset/tinysnb/', `"${TINYSNB}/`));
    }
  }
}

// ---------------------------------------------------------------- CSV writing

/** Quotes one value for a Kuzu CSV (null/undefined -> empty field = NULL). */
export function csvField(v) {
  if (v === null || v === undefined) return '';
  const s = String(v);
  if (s === '' || /[",\n\r]/.test(s)) return '"' + s.replaceAll('"', '""') + '"';
  return s;
}

export function writeCsv(file, rows) {
  const parts = rows.map(r => r.map(csvField).join(',') + '\n');
  fs.writeFileSync(file, parts.join(''));
  return file;
}

// ---------------------------------------------------------------- the CLI

export function binExists() {
  try {
    fs.accessSync(KUZUSYNC_BIN, fs.constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/**
 * Runs kuzusync with `args`. Returns {status, stdout, stderr, json, signal, cmd}.
 * `json` is the parsed stdout when it is valid JSON, otherwise undefined
 * (and `jsonError` says why).
 */
export function kuzusync(args, { timeout = 120_000 } = {}) {
  if (!binExists()) {
    throw new Error(`kuzusync binary not found at ${KUZUSYNC_BIN} (build it into build/ or set KUZUSYNC_BIN)`);
  }
  const r = spawnSync(KUZUSYNC_BIN, args, { encoding: 'utf8', timeout, maxBuffer: 256 * 1024 * 1024 });
  const out = {
    status: r.status,
    signal: r.signal,
    stdout: r.stdout ?? '',
    stderr: r.stderr ?? '',
    json: undefined,
    cmd: [KUZUSYNC_BIN, ...args].map(a => (/[\s'"]/.test(a) ? JSON.stringify(a) : a)).join(' '),
  };
  if (r.error) out.error = r.error;
  const text = out.stdout.trim();
  if (text.startsWith('{')) {
    try {
      out.json = JSON.parse(text);
    } catch (e) {
      out.jsonError = e.message;
    }
  }
  return out;
}

/** A short description of a CLI run for assertion messages. */
export function describeRun(r) {
  const clip = s => (s.length > 3000 ? s.slice(0, 3000) + `... [${s.length} chars]` : s);
  return `$ ${r.cmd}\nexit=${r.status}${r.signal ? ' signal=' + r.signal : ''}\n--- stdout\n${clip(r.stdout)}\n--- stderr\n${clip(r.stderr)}`;
}

/**
 * kuzusync's documented per-replica state beside a replica directory R:
 * `.R.kuzusync-lock` (the replica's lock) and `.R.kuzusync/` (its tree cache).
 * Listings that check for stray files leave these out.
 */
export function isReplicaState(name) {
  return /^\..+\.kuzusync(-lock)?$/.test(name);
}
