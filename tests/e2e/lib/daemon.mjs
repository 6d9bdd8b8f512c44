// The kuzusync daemon for e2e tests: TLS material made with the openssl CLI
// (OpenSSL 3.0: `openssl ca -startdate/-enddate` makes the expired cert) and
// `kuzusync serve --listen` on a free loopback port.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { KUZUSYNC_BIN } from './kuzu.mjs';
import { freePort, startServer } from './servers.mjs';

function openssl(args, cwd) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')}: exit ${r.status}\n${r.stderr}`);
  return r.stdout;
}

function newKeyAndCsr(dir, name, cn) {
  openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.csr`, '-subj', `/CN=${cn}`], dir);
}

function newCa(dir, name, cn) {
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes',
    '-keyout', `${name}.key`, '-out', `${name}.pem`, '-days', '30', '-subj', `/CN=${cn}`,
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
}

/** Signs `name`.csr with CA `ca` for `days`, with subjectAltName `san`. */
function signCert(dir, name, ca, san, days = 2) {
  fs.writeFileSync(path.join(dir, `${name}.ext`), `subjectAltName=${san}\nbasicConstraints=CA:FALSE\n`);
  openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`,
    '-CAcreateserial', '-out', `${name}.pem`, '-days', String(days), '-extfile', `${name}.ext`], dir);
}

/** Signs with explicit validity dates (YYYYMMDDHHMMSSZ) via a throwaway `openssl ca` database. */
function signCertDated(dir, name, ca, san, startdate, enddate) {
  const db = path.join(dir, `${name}-cadb`);
  fs.mkdirSync(db, { recursive: true });
  fs.writeFileSync(path.join(db, 'index.txt'), '');
  fs.writeFileSync(path.join(db, 'serial'), '1000\n');
  fs.writeFileSync(path.join(dir, `${name}-ca.cnf`), [
    '[ ca ]', 'default_ca = testca',
    '[ testca ]', `dir = ${db}`, 'database = $dir/index.txt', 'serial = $dir/serial',
    'new_certs_dir = $dir', 'default_md = sha256', 'policy = pol', 'unique_subject = no',
    '[ pol ]', 'commonName = supplied',
    '[ ext ]', `subjectAltName = ${san}`, 'basicConstraints = CA:FALSE', '',
  ].join('\n'));
  openssl(['ca', '-batch', '-config', `${name}-ca.cnf`, '-cert', `${ca}.pem`, '-keyfile', `${ca}.key`,
    '-in', `${name}.csr`, '-out', `${name}.pem`, '-startdate', startdate, '-enddate', enddate,
    '-extensions', 'ext', '-notext'], dir);
}

/**
 * Writes TLS material into `dir`:
 *   ca.pem                    the CA the clients trust (--ca-file)
 *   server.pem / server.key   127.0.0.1 (SAN IP:127.0.0.1), valid now
 *   expired.pem / server.key  same name, valid 2020-01-01 .. 2021-01-01
 *   wronghost.pem / wronghost.key  SAN DNS:example.com only
 *   rogue.pem / rogue-srv.pem / rogue-srv.key  a server cert for 127.0.0.1 from another CA
 * Returns absolute paths.
 */
export function makeTls(dir) {
  fs.mkdirSync(dir, { recursive: true });
  newCa(dir, 'ca', 'kuzusync test CA');
  newKeyAndCsr(dir, 'server', '127.0.0.1');
  signCert(dir, 'server', 'ca', 'IP:127.0.0.1');
  fs.copyFileSync(path.join(dir, 'server.csr'), path.join(dir, 'expired.csr'));
  signCertDated(dir, 'expired', 'ca', 'IP:127.0.0.1', '20200101000000Z', '20210101000000Z');
  newKeyAndCsr(dir, 'wronghost', 'example.com');
  signCert(dir, 'wronghost', 'ca', 'DNS:example.com');
  newCa(dir, 'rogue', 'some other CA');
  newKeyAndCsr(dir, 'rogue-srv', '127.0.0.1');
  signCert(dir, 'rogue-srv', 'rogue', 'IP:127.0.0.1');
  const p = f => path.join(dir, f);
  return {
    ca: p('ca.pem'),
    cert: p('server.pem'), key: p('server.key'),
    expiredCert: p('expired.pem'), expiredKey: p('server.key'),
    wrongHostCert: p('wronghost.pem'), wrongHostKey: p('wronghost.key'),
    rogueCert: p('rogue-srv.pem'), rogueKey: p('rogue-srv.key'),
  };
}

/** `openssl x509 -noout -dates -ext subjectAltName` of a cert (diagnostics). */
export function certInfo(file) {
  return openssl(['x509', '-in', file, '-noout', '-dates', '-ext', 'subjectAltName']).trim();
}

/**
 * Writes a token file and one client token file per entry:
 * entries: {name: 'rw *'|'ro'|'rw r2', ...} -> {file, tokens: {name: path}}.
 */
export function makeTokens(dir, entries) {
  const lines = ['# kuzusync e2e tokens'];
  const tokens = {};
  let i = 0;
  for (const [name, grant] of Object.entries(entries)) {
    const token = `tok-${name}-${(i++).toString().padStart(2, '0')}-0123456789abcdef`;
    lines.push(`${token} ${grant}`);
    tokens[name] = path.join(dir, `${name}.token`);
    fs.writeFileSync(tokens[name], token + '\n', { mode: 0o600 });
  }
  const file = path.join(dir, 'tokens');
  fs.writeFileSync(file, lines.join('\n') + '\n', { mode: 0o600 });
  return { file, tokens };
}

/**
 * Starts `kuzusync serve --listen 127.0.0.1:PORT --root ROOT ...` and waits
 * for its "listening" line. Retries on another port when the port was taken.
 * Returns the server (see startServer) plus {port, url(name)}.
 */
export async function startDaemon({ root, cert, key, tokenFile, logFile, extra = [] }) {
  let lastErr;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const args = ['serve', '--listen', `127.0.0.1:${port}`, '--root', root, '--token-file', tokenFile];
    if (cert) args.push('--tls-cert', cert, '--tls-key', key);
    args.push(...extra);
    try {
      const srv = await startServer(KUZUSYNC_BIN, args, { logFile, ready: /listening on/ });
      srv.port = port;
      srv.url = name => `kuzusync://127.0.0.1:${port}/${name}`;
      return srv;
    } catch (e) {
      lastErr = e;
      if (!/cannot listen|in use/i.test(e.log ?? '')) throw e;
    }
  }
  throw lastErr;
}
