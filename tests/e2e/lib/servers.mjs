// Background servers for the transfer e2e tests (sshd, kuzusync daemon):
// free ports, a registry that kills every server we started (also when a test
// fails or the process exits), and waiting for a "ready" line in a log file.
// Server output goes to a log file, not a pipe: the tests run the CLI with
// spawnSync, which blocks the event loop, and a full pipe would stall a server.
import fs from 'node:fs';
import net from 'node:net';
import { spawn } from 'node:child_process';

const running = new Set();

function killHard(child) {
  if (child.exitCode === null && child.signalCode === null) {
    try { child.kill('SIGKILL'); } catch { /* already gone */ }
  }
}

process.on('exit', () => {
  for (const s of running) killHard(s.child);
});

/** Kills every server still running (SIGTERM, then SIGKILL after `graceMs`). */
export async function stopAllServers(graceMs = 2000) {
  await Promise.all([...running].map(s => s.stop(graceMs)));
}

/** A TCP port on 127.0.0.1 that was free a moment ago. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

export const sleep = ms => new Promise(r => setTimeout(r, ms));

/**
 * Starts `cmd args` in the background with stdout+stderr appended to `logFile`
 * and waits until the log matches `ready` (a RegExp). Rejects when the
 * process exits first or `timeoutMs` passes (the log is in the message).
 * Returns {child, pid, log(), stop(graceMs)}; the server is registered and
 * killed by stopAllServers() / process exit if the caller does not stop it.
 */
export async function startServer(cmd, args, { logFile, ready, timeoutMs = 10_000, env } = {}) {
  const fd = fs.openSync(logFile, 'a');
  const child = spawn(cmd, args, { stdio: ['ignore', fd, fd], env: env ?? process.env });
  fs.closeSync(fd);
  const exited = new Promise(resolve => child.on('exit', (code, signal) => resolve({ code, signal })));
  let spawnError = null;
  child.on('error', e => { spawnError = e; });
  const log = () => (fs.existsSync(logFile) ? fs.readFileSync(logFile, 'utf8') : '');
  const server = {
    child,
    pid: child.pid,
    cmd: [cmd, ...args].join(' '),
    log,
    exited,
    async stop(graceMs = 2000) {
      if (child.exitCode === null && child.signalCode === null) {
        try { child.kill('SIGTERM'); } catch { /* gone */ }
        const done = await Promise.race([exited.then(() => true), sleep(graceMs).then(() => false)]);
        if (!done) {
          killHard(child);
          await exited;
        }
      }
      running.delete(server);
    },
  };
  running.add(server);
  const t0 = Date.now();
  let state = null;
  exited.then(s => { state = s; });
  for (;;) {
    if (spawnError) {
      await server.stop();
      throw new Error(`cannot start ${server.cmd}: ${spawnError.message}`);
    }
    if (ready.test(log())) return server;
    if (state) {
      running.delete(server);
      const err = new Error(`${server.cmd} exited (${JSON.stringify(state)}) before it was ready\n--- log\n${log()}`);
      err.log = log();
      throw err;
    }
    if (Date.now() - t0 > timeoutMs) {
      await server.stop();
      throw new Error(`${server.cmd} not ready after ${timeoutMs} ms\n--- log\n${log()}`);
    }
    await sleep(25);
  }
}
