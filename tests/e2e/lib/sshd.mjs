// A real OpenSSH server on 127.0.0.1 for the ssh transport tests: host and
// user keys made with ssh-keygen, its own sshd_config, `sshd -D -e` as root.
import fs from 'node:fs';
import path from 'node:path';
import { spawnSync } from 'node:child_process';
import { freePort, startServer } from './servers.mjs';

export const SSHD_BIN = '/usr/sbin/sshd';

/** Why an sshd cannot be run here, or null when it can. */
export function sshdUnavailable() {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) return 'not root (sshd must run as root)';
  if (!fs.existsSync(SSHD_BIN)) return `${SSHD_BIN} not installed`;
  for (const tool of ['ssh', 'ssh-keygen']) {
    if (spawnSync('sh', ['-c', `command -v ${tool}`]).status !== 0) return `${tool} not installed`;
  }
  return null;
}

function keygen(file) {
  const r = spawnSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'kuzusync-e2e', '-f', file], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`ssh-keygen -f ${file}: exit ${r.status}\n${r.stderr}`);
}

/**
 * Starts sshd in `dir` (created). Returns the server (see startServer) plus
 *   port, userKey, otherKey (a key sshd does not accept),
 *   rsh         ssh command incl. -p PORT, for host:/path remotes,
 *   rshNoPort   same without -p, for ssh://root@127.0.0.1:PORT/path remotes,
 *   rshWith(key) rsh with another identity.
 */
export async function startSshd(dir) {
  fs.mkdirSync(dir, { recursive: true });
  fs.mkdirSync('/run/sshd', { recursive: true, mode: 0o755 }); // privilege separation dir
  const hostKey = path.join(dir, 'host_ed25519');
  const userKey = path.join(dir, 'user_ed25519');
  const otherKey = path.join(dir, 'other_ed25519');
  keygen(hostKey);
  keygen(userKey);
  keygen(otherKey);
  const authorized = path.join(dir, 'authorized_keys');
  fs.copyFileSync(`${userKey}.pub`, authorized);
  fs.chmodSync(authorized, 0o600);
  let lastErr;
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = await freePort();
    const cfg = path.join(dir, 'sshd_config');
    fs.writeFileSync(cfg, [
      `Port ${port}`,
      'ListenAddress 127.0.0.1',
      `HostKey ${hostKey}`,
      `AuthorizedKeysFile ${authorized}`,
      `PidFile ${path.join(dir, 'sshd.pid')}`,
      'StrictModes no',
      'UsePAM no',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PubkeyAuthentication yes',
      'PermitRootLogin prohibit-password',
      'LogLevel VERBOSE',
      '',
    ].join('\n'));
    try {
      const srv = await startServer(SSHD_BIN, ['-D', '-f', cfg, '-e'], {
        logFile: path.join(dir, `sshd-${attempt}.log`), ready: /Server listening on/,
      });
      const base = key => `ssh -F /dev/null -i ${key} -o IdentitiesOnly=yes -o StrictHostKeyChecking=no ` +
        '-o UserKnownHostsFile=/dev/null -o LogLevel=ERROR -o ConnectTimeout=10';
      Object.assign(srv, {
        port, userKey, otherKey,
        rsh: `${base(userKey)} -p ${port}`,
        rshNoPort: base(userKey),
        rshWith: key => `${base(key)} -p ${port}`,
      });
      return srv;
    } catch (e) {
      lastErr = e;
      if (!/Address already in use|Bind to port/i.test(e.log ?? '')) throw e;
    }
  }
  throw lastErr;
}
