// Independent reference implementation of `kuzusync diff` semantics, written
// from the spec only (shares no code with the C++ implementation).
//
// An export directory (EXPORT DATABASE ... (format='csv')) holds schema.cypher,
// copy.cypher and one CSV file per node table / rel table FROM-TO pair.
//  - Node table rows are identified by primary key: only_in_a / only_in_b are
//    keys present on one side only, changed = keys on both sides whose row
//    differs.
//  - Rel tables are multisets of whole rows (from key, to key, properties;
//    duplicates count); a rel with a changed property is one only_in_a plus one
//    only_in_b; changed is always 0. A rel table with several FROM/TO pairs is
//    one table (rows from all of its files). Rows of different FROM/TO pairs are
//    never the same rel, so the pair is part of a rel row's identity here.
//  - Fields compare as parsed values: an empty unquoted field is NULL, which is
//    distinct from the quoted empty string "".
import fs from 'node:fs';
import path from 'node:path';
import crypto from 'node:crypto';

export class ExportError extends Error {
  constructor(message, file, line) {
    super(line ? `${file}:${line}: ${message}` : `${file}: ${message}`);
    this.file = file;
    this.line = line;
  }
}

// ---------------------------------------------------------------- CSV

/**
 * Parses RFC-4180 CSV text (',' delimiter, '"' quote, quotes doubled, embedded
 * newlines/commas inside quotes). Returns records
 *   {fields: (string|null)[], line: <1-based line of the record start>,
 *    start, end: <char offsets of the raw record incl. its line break>}
 * An empty unquoted field is null; a quoted "" is the empty string.
 * Empty lines are skipped. Throws ExportError on an unterminated quote or on
 * characters after a closing quote.
 */
export function parseCsv(text, file = '<csv>') {
  const records = [];
  const n = text.length;
  let i = 0;
  let line = 1;
  while (i < n) {
    const start = i;
    const startLine = line;
    // Skip an empty line.
    if (text[i] === '\n') { i++; line++; continue; }
    if (text[i] === '\r' && text[i + 1] === '\n') { i += 2; line++; continue; }
    const fields = [];
    for (;;) {
      // one field
      if (text[i] === '"') {
        let val = '';
        let j = i + 1;
        let closed = false;
        while (j < n) {
          const c = text[j];
          if (c === '"') {
            if (text[j + 1] === '"') { val += '"'; j += 2; continue; }
            closed = true;
            j++;
            break;
          }
          if (c === '\n') line++;
          val += c;
          j++;
        }
        if (!closed) throw new ExportError('unterminated quoted field', file, startLine);
        fields.push(val);
        i = j;
        if (i < n && text[i] !== ',' && text[i] !== '\n' && !(text[i] === '\r' && text[i + 1] === '\n')) {
          throw new ExportError(`unexpected character ${JSON.stringify(text[i])} after closing quote`, file, line);
        }
      } else {
        let j = i;
        while (j < n && text[j] !== ',' && text[j] !== '\n' && !(text[j] === '\r' && text[j + 1] === '\n')) j++;
        fields.push(j === i ? null : text.slice(i, j));
        i = j;
      }
      if (i >= n) break;
      if (text[i] === ',') { i++; if (i >= n) { fields.push(null); break; } continue; }
      // end of record
      if (text[i] === '\r') i++;
      i++; // '\n'
      line++;
      break;
    }
    records.push({ fields, line: startLine, start, end: i });
  }
  return records;
}

// ---------------------------------------------------------------- cypher

function splitStatements(text) {
  const out = [];
  let cur = '';
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < text.length && text[j] !== ch) { if (text[j] === '\\' && ch !== '`') j++; j++; }
      cur += text.slice(i, j + 1);
      i = j;
    } else if (ch === ';') {
      if (cur.trim()) out.push(cur.trim());
      cur = '';
    } else {
      cur += ch;
    }
  }
  if (cur.trim()) out.push(cur.trim());
  return out;
}

/** Splits on commas at nesting depth 0 (parentheses/brackets, quotes, backticks). */
function splitTopLevel(s) {
  const parts = [];
  let depth = 0;
  let cur = '';
  for (let i = 0; i < s.length; i++) {
    const ch = s[i];
    if (ch === "'" || ch === '"' || ch === '`') {
      let j = i + 1;
      while (j < s.length && s[j] !== ch) j++;
      cur += s.slice(i, j + 1);
      i = j;
      continue;
    }
    if (ch === '(' || ch === '[' || ch === '{') depth++;
    if (ch === ')' || ch === ']' || ch === '}') depth--;
    if (ch === ',' && depth === 0) { parts.push(cur.trim()); cur = ''; continue; }
    cur += ch;
  }
  if (cur.trim()) parts.push(cur.trim());
  return parts;
}

const unq = s => (s.startsWith('`') && s.endsWith('`') ? s.slice(1, -1) : s);
const IDENT = '(`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)';

/**
 * Parses schema.cypher. Returns Map name -> {kind:'node'|'rel', columns:[{name,type}],
 * pk (node), pairs:[[from,to]] (rel), multiplicity (rel), def (normalised text)}.
 */
export function parseSchema(text, file = 'schema.cypher') {
  const tables = new Map();
  const re = new RegExp(`^CREATE\\s+(NODE|REL)\\s+TABLE\\s+(?:IF\\s+NOT\\s+EXISTS\\s+)?${IDENT}\\s*\\(([\\s\\S]*)\\)\\s*$`, 'i');
  for (const stmt of splitStatements(text)) {
    const m = re.exec(stmt);
    if (!m) continue;
    const kind = m[1].toLowerCase();
    const name = unq(m[2]);
    const t = { kind, name, columns: [], pk: null, pairs: [], multiplicity: null };
    for (const item of splitTopLevel(m[3])) {
      let mm;
      if ((mm = /^PRIMARY\s+KEY\s*\(\s*(.+?)\s*\)$/i.exec(item))) {
        t.pk = unq(mm[1]);
      } else if (kind === 'rel' && (mm = new RegExp(`^FROM\\s+${IDENT}\\s+TO\\s+${IDENT}$`, 'i').exec(item))) {
        t.pairs.push([unq(mm[1]), unq(mm[2])]);
      } else if (kind === 'rel' && /^(MANY|ONE)_(MANY|ONE)$/i.test(item)) {
        t.multiplicity = item.toUpperCase();
      } else if ((mm = new RegExp(`^${IDENT}\\s+([\\s\\S]+)$`).exec(item))) {
        let type = mm[2].trim();
        const pkInline = /\s+PRIMARY\s+KEY$/i.exec(type);
        if (pkInline) { type = type.slice(0, pkInline.index).trim(); t.pk = unq(mm[1]); }
        t.columns.push({ name: unq(mm[1]), type: type.replace(/\s+/g, ' ').toUpperCase() });
      } else {
        throw new ExportError(`cannot parse table element ${JSON.stringify(item)} of ${name}`, file);
      }
    }
    if (kind === 'node' && !t.pk) throw new ExportError(`node table ${name} has no PRIMARY KEY`, file);
    t.def = JSON.stringify({ kind, columns: t.columns, pk: t.pk, pairs: [...t.pairs].map(p => p.join('->')).sort(), multiplicity: t.multiplicity });
    tables.set(name, t);
  }
  return tables;
}

/** Parses copy.cypher: [{table, columns|null, file, from, to}]. */
export function parseCopy(text, file = 'copy.cypher') {
  const out = [];
  const re = new RegExp(`^COPY\\s+${IDENT}\\s*(?:\\(((?:\`[^\`]*\`|[^)\`])*)\\))?\\s*FROM\\s+("(?:[^"]|"")*"|'(?:[^']|'')*')\\s*(?:\\(([\\s\\S]*)\\))?\\s*$`, 'i');
  for (const stmt of splitStatements(text)) {
    if (!/^COPY\b/i.test(stmt)) continue;
    const m = re.exec(stmt);
    if (!m) throw new ExportError(`cannot parse COPY statement ${JSON.stringify(stmt)}`, file);
    const columns = m[2] === undefined ? null : splitTopLevel(m[2]).map(unq).filter(Boolean);
    const opts = m[4] ?? '';
    const opt = k => {
      const mm = new RegExp(`\\b${k}\\s*=\\s*'([^']*)'`, 'i').exec(opts);
      return mm ? mm[1] : null;
    };
    out.push({ table: unq(m[1]), columns, file: m[3].slice(1, -1), from: opt('from'), to: opt('to') });
  }
  return out;
}

// ---------------------------------------------------------------- export

/**
 * Reads an export directory. Returns Map name -> {kind, schema, pkIndex,
 * rows: [{fields, pair, file, line}], count}.
 */
export function readExport(dir) {
  const schemaFile = path.join(dir, 'schema.cypher');
  const copyFile = path.join(dir, 'copy.cypher');
  if (!fs.existsSync(schemaFile)) throw new ExportError('missing', schemaFile);
  if (!fs.existsSync(copyFile)) throw new ExportError('missing', copyFile);
  const schema = parseSchema(fs.readFileSync(schemaFile, 'utf8'), schemaFile);
  const copies = parseCopy(fs.readFileSync(copyFile, 'utf8'), copyFile);
  const tables = new Map();
  for (const [name, s] of schema) {
    tables.set(name, { name, kind: s.kind, schema: s, rows: [], files: [] });
  }
  for (const c of copies) {
    const t = tables.get(c.table);
    const file = path.join(dir, c.file);
    if (!t) throw new ExportError(`COPY into unknown table ${c.table}`, copyFile);
    if (/\.parquet$/i.test(c.file)) throw new ExportError('parquet is not supported', file);
    if (!fs.existsSync(file)) throw new ExportError('missing data file', file);
    const cols = c.columns ?? t.schema.columns.map(x => x.name);
    const width = t.kind === 'node' ? cols.length : 2 + cols.length;
    let pkIndex = null;
    if (t.kind === 'node') {
      pkIndex = cols.indexOf(t.schema.pk);
      if (pkIndex < 0) throw new ExportError(`primary key ${t.schema.pk} not among COPY columns`, copyFile);
      t.pkIndex = pkIndex;
    }
    const pair = t.kind === 'rel' ? `${c.from ?? '?'}->${c.to ?? '?'}` : null;
    t.files.push(c.file);
    for (const rec of parseCsv(fs.readFileSync(file, 'utf8'), file)) {
      if (rec.fields.length !== width) {
        throw new ExportError(`expected ${width} fields, found ${rec.fields.length}`, file, rec.line);
      }
      t.rows.push({ fields: rec.fields, pair, file, line: rec.line });
    }
  }
  for (const t of tables.values()) {
    t.count = t.rows.length;
    if (t.kind === 'node') {
      t.byKey = new Map();
      for (const r of t.rows) {
        const key = r.fields[t.pkIndex];
        if (t.byKey.has(key)) throw new ExportError(`duplicate primary key ${JSON.stringify(key)} in ${t.name}`, r.file, r.line);
        t.byKey.set(key, JSON.stringify(r.fields));
      }
    } else {
      t.multiset = new Map();
      for (const r of t.rows) {
        const k = JSON.stringify([r.pair, ...r.fields]);
        t.multiset.set(k, (t.multiset.get(k) ?? 0) + 1);
      }
    }
  }
  return tables;
}

// ---------------------------------------------------------------- diff

function emptyTable(kind) {
  return { kind, rows_a: 0, rows_b: 0, only_in_a: 0, only_in_b: 0, changed: 0 };
}

function diffNodes(a, b) {
  const res = { kind: 'node', rows_a: a ? a.count : 0, rows_b: b ? b.count : 0, only_in_a: 0, only_in_b: 0, changed: 0 };
  const keys = { only_in_a: [], only_in_b: [], changed: [] };
  const ma = a ? a.byKey : new Map();
  const mb = b ? b.byKey : new Map();
  for (const [k, v] of ma) {
    if (!mb.has(k)) keys.only_in_a.push(k);
    else if (mb.get(k) !== v) keys.changed.push(k);
  }
  for (const k of mb.keys()) if (!ma.has(k)) keys.only_in_b.push(k);
  res.only_in_a = keys.only_in_a.length;
  res.only_in_b = keys.only_in_b.length;
  res.changed = keys.changed.length;
  return { res, keys };
}

function diffRels(a, b) {
  const res = { kind: 'rel', rows_a: a ? a.count : 0, rows_b: b ? b.count : 0, only_in_a: 0, only_in_b: 0, changed: 0 };
  // keys: decoded rows [from, to, ...props] with multiplicity expanded
  const keys = { only_in_a: [], only_in_b: [], changed: [] };
  const ma = a ? a.multiset : new Map();
  const mb = b ? b.multiset : new Map();
  for (const [k, ca] of ma) {
    const d = ca - (mb.get(k) ?? 0);
    for (let i = 0; i < d; i++) keys.only_in_a.push(JSON.parse(k).slice(1));
  }
  for (const [k, cb] of mb) {
    const d = cb - (ma.get(k) ?? 0);
    for (let i = 0; i < d; i++) keys.only_in_b.push(JSON.parse(k).slice(1));
  }
  res.only_in_a = keys.only_in_a.length;
  res.only_in_b = keys.only_in_b.length;
  return { res, keys };
}

/**
 * Reference diff of two export directories, in kuzusync's JSON shape plus
 * `keys` (per table: the differing keys / rel rows) and `schemaChangedTables`.
 * `tables` (optional array) limits the row comparison to those tables.
 */
export function referenceDiff(dirA, dirB, { tables: only } = {}) {
  const A = readExport(dirA);
  const B = readExport(dirB);
  const schema = { only_in_a: [], only_in_b: [], changed: [] };
  for (const [n, t] of A) {
    if (!B.has(n)) schema.only_in_a.push(n);
    else if (B.get(n).schema.def !== t.schema.def) schema.changed.push(n);
  }
  for (const n of B.keys()) if (!A.has(n)) schema.only_in_b.push(n);
  for (const k of Object.keys(schema)) schema[k].sort();

  const names = [...new Set([...A.keys(), ...B.keys()])].sort();
  const out = { identical: true, tables: {}, schema, keys: {} };
  for (const n of names) {
    if (only && !only.includes(n)) continue;
    const a = A.get(n);
    const b = B.get(n);
    const kind = (a ?? b).kind;
    const { res, keys } = kind === 'node' ? diffNodes(a, b) : diffRels(a, b);
    out.tables[n] = res;
    out.keys[n] = keys;
  }
  const tablesDiffer = Object.values(out.tables).some(t => t.only_in_a || t.only_in_b || t.changed);
  const schemaScope = k => schema[k].filter(n => !only || only.includes(n));
  out.identical = !tablesDiffer && !schemaScope('only_in_a').length && !schemaScope('only_in_b').length && !schemaScope('changed').length;
  return out;
}

/** True when a per-table diff entry shows a difference. */
export const tableDiffers = t => !!(t.only_in_a || t.only_in_b || t.changed);

/** Reference of `kuzusync hash`: per table kind, row count, and an order-free digest of our own. */
export function referenceHash(dir) {
  const out = { tables: {} };
  for (const [n, t] of readExport(dir)) {
    const lines = t.rows.map(r => JSON.stringify([r.pair, ...r.fields])).sort();
    const h = crypto.createHash('sha256');
    for (const l of lines) h.update(l + '\n');
    out.tables[n] = { kind: t.kind, rows: t.count, root: h.digest('hex') };
  }
  return out;
}

// ---------------------------------------------------------------- utilities

/** Rewrites every CSV data file of an export dir with its records in a shuffled order. */
export function shuffleExportRows(dir, seed = 1) {
  let s = seed >>> 0 || 1;
  const rnd = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) / 2 ** 32);
  for (const c of parseCopy(fs.readFileSync(path.join(dir, 'copy.cypher'), 'utf8'))) {
    const file = path.join(dir, c.file);
    const text = fs.readFileSync(file, 'utf8');
    let raws = parseCsv(text, file).map(r => text.slice(r.start, r.end));
    raws = raws.map(r => (r.endsWith('\n') ? r : r + '\n'));
    for (let i = raws.length - 1; i > 0; i--) {
      const j = Math.floor(rnd() * (i + 1));
      [raws[i], raws[j]] = [raws[j], raws[i]];
    }
    // make sure the order actually changed when there is more than one distinct record
    if (raws.length > 1 && raws.join('') === text) raws.push(raws.shift());
    fs.writeFileSync(file, raws.join(''));
  }
}
