// The documented shape of `kuzusync sync --json` and of its conflicts, checked
// by every sync test the same way.
import assert from 'node:assert/strict';
import { describeRun } from './kuzu.mjs';

export const SYNC_FIELDS = {
  outcome: 'string', run: 'number', peer: 'string', mode: 'string', reason: 'string',
  full_resync_required: 'boolean', local_changed: 'boolean', remote_changed: 'boolean',
  rows_in: 'number', rows_out: 'number', conflicts: 'array', remote_vector_order: 'string',
  vector: 'object', root: 'string', events: 'number', cypher_batch: 'string',
  pending_batches_replayed: 'number', finished_interrupted_run: 'number', warnings: 'array',
  bytes_sent: 'number', bytes_received: 'number', round_trips: 'number', elapsed_ms: 'number',
};

const typeOf = v => (v === null ? 'null' : Array.isArray(v) ? 'array' : typeof v);

/** A conflict: table, key, base/local/remote rows (CSV line or null; base may be "unknown"), resolution, detail. */
export function assertConflictShape(c, where) {
  const msg = `${where}: conflict ${JSON.stringify(c)}`;
  for (const k of ['table', 'key', 'resolution', 'detail']) assert.equal(typeof c[k], 'string', `${k}: ${msg}`);
  for (const k of ['base', 'local', 'remote']) {
    assert.ok(k in c && (c[k] === null || typeof c[k] === 'string'), `${k} is a CSV line or null: ${msg}`);
  }
  assert.ok(c.resolution.length > 0, `resolution is set: ${msg}`);
}

/** Asserts r (a kuzusync() result of `sync --json`) printed the documented object; returns it. */
export function assertSyncJson(r, where) {
  const j = r.json;
  assert.ok(j, `${where}: sync --json prints one JSON object (${r.jsonError ?? 'not JSON'})\n${describeRun(r)}`);
  for (const [k, type] of Object.entries(SYNC_FIELDS)) {
    assert.equal(typeOf(j[k]), type, `${where}: "${k}" must be ${type}, got ${JSON.stringify(j[k])}\n${describeRun(r)}`);
  }
  assert.ok(['in sync', 'synced', 'stopped', 'dry run'].includes(j.outcome), `${where}: outcome ${j.outcome}`);
  assert.ok(['full', 'incremental'].includes(j.mode), `${where}: mode ${j.mode}`);
  assert.equal(j.full_resync_required, j.mode === 'full', `${where}: full_resync_required`);
  assert.ok(['equal', 'behind', 'ahead', 'concurrent'].includes(j.remote_vector_order), `${where}: remote_vector_order ${j.remote_vector_order}`);
  for (const k of ['rows_in', 'rows_out', 'events', 'bytes_sent', 'bytes_received', 'round_trips', 'pending_batches_replayed']) {
    assert.ok(Number.isInteger(j[k]) && j[k] >= 0, `${where}: ${k} = ${j[k]}`);
  }
  assert.ok(j.run > 0, `${where}: run id`);
  for (const c of j.conflicts) assertConflictShape(c, where);
  for (const [id, n] of Object.entries(j.vector)) assert.ok(Number.isInteger(n) && n > 0, `${where}: vector[${id}] = ${n}`);
  return j;
}
