// Assertions comparing `kuzusync diff --json` output with the reference diff.
import assert from 'node:assert/strict';
import { describeRun } from './kuzu.mjs';
import { tableDiffers } from './reference.mjs';

export const TABLE_FIELDS = ['kind', 'rows_a', 'rows_b', 'only_in_a', 'only_in_b', 'changed'];

const pick = (o, keys) => Object.fromEntries(keys.map(k => [k, o?.[k]]));

/** Asserts the run printed one JSON object of the documented shape; returns it. */
export function assertJsonShape(run) {
  assert.ok(run.json, `expected one JSON object on stdout (${run.jsonError ?? 'not JSON'})\n${describeRun(run)}`);
  const j = run.json;
  assert.equal(typeof j.identical, 'boolean', `"identical" must be a boolean\n${describeRun(run)}`);
  assert.equal(typeof j.tables, 'object', `"tables" must be an object\n${describeRun(run)}`);
  assert.ok(j.schema && ['only_in_a', 'only_in_b', 'changed'].every(k => Array.isArray(j.schema[k])),
    `"schema" must hold arrays only_in_a, only_in_b, changed\n${describeRun(run)}`);
  assert.ok(j.stats && ['comparisons', 'leaves_compared', 'elapsed_ms'].every(k => typeof j.stats[k] === 'number' && j.stats[k] >= 0),
    `"stats" must hold non-negative numbers comparisons, leaves_compared, elapsed_ms\n${describeRun(run)}`);
  for (const [n, t] of Object.entries(j.tables)) {
    for (const k of TABLE_FIELDS.slice(1)) {
      assert.ok(Number.isInteger(t[k]) && t[k] >= 0, `tables.${n}.${k} must be a non-negative integer, got ${JSON.stringify(t[k])}`);
    }
    assert.ok(t.kind === 'node' || t.kind === 'rel', `tables.${n}.kind must be node|rel, got ${JSON.stringify(t.kind)}`);
    if (t.kind === 'rel') assert.equal(t.changed, 0, `tables.${n}: changed is always 0 for rel tables`);
  }
  return j;
}

/**
 * Asserts a `diff --json` run agrees with the reference diff `ref`:
 * exit code, "identical", "schema", and every table entry (tables that differ
 * must be present; tables present must equal the reference; no unknown tables).
 * `skipTables`: table names whose row counts are not compared (e.g. schema changed).
 */
export function assertDiffMatches(run, ref, { skipTables = [], expectExit } = {}) {
  const exit = expectExit ?? (ref.identical ? 0 : 1);
  assert.equal(run.status, exit, `exit code\n${describeRun(run)}`);
  const j = assertJsonShape(run);
  const ctx = `\n${describeRun(run)}\n--- reference\n${JSON.stringify({ identical: ref.identical, tables: ref.tables, schema: ref.schema }, null, 1)}`;
  assert.equal(j.identical, ref.identical, `"identical"${ctx}`);
  const sorted = a => [...a].sort();
  assert.deepEqual(
    { only_in_a: sorted(j.schema.only_in_a), only_in_b: sorted(j.schema.only_in_b), changed: sorted(j.schema.changed) },
    ref.schema, `"schema"${ctx}`);
  for (const n of Object.keys(j.tables)) {
    assert.ok(n in ref.tables, `kuzusync reports table ${JSON.stringify(n)} that the reference does not know${ctx}`);
  }
  for (const [n, rt] of Object.entries(ref.tables)) {
    if (skipTables.includes(n)) continue;
    if (!(n in j.tables)) {
      assert.ok(!tableDiffers(rt), `table ${n} differs (${JSON.stringify(rt)}) but is missing from "tables"${ctx}`);
      continue;
    }
    assert.deepEqual(pick(j.tables[n], TABLE_FIELDS), pick(rt, TABLE_FIELDS), `tables.${n}${ctx}`);
  }
  return j;
}
