/**
 * Where the local client API may listen. The API has no authentication of its own: whoever reaches the port
 * can send as this client and read everything it receives. So it binds to the loopback interface only,
 * unless the operator says otherwise in so many words (`--allow-off-host`).
 */
import { isIP } from 'node:net';
import { LoopixError } from '../errors.js';

/** True for 127.0.0.0/8, ::1, ::ffff:127.x.y.z and the name "localhost". */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost') return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (isIP(h) === 6) return h === '::1' || h === '0:0:0:0:0:0:0:1' || /^::ffff:127\./.test(h);
  return false;
}

/** Throws ERR_LOOPIX_API_OFF_HOST for a non-loopback host unless `allowOffHost`. */
export function checkBindHost(host: string, allowOffHost: boolean): void {
  if (host.trim() === '')
    throw new LoopixError('ERR_LOOPIX_API_BAD_HOST', '--host must not be empty', { field: 'host' });
  if (!isLoopbackHost(host) && !allowOffHost) {
    throw new LoopixError(
      'ERR_LOOPIX_API_OFF_HOST',
      `--host ${host} is not a loopback address: the client API has no authentication, so anyone who reaches it can send and read as this client; use 127.0.0.1, or add --allow-off-host if you really mean it`,
      { field: 'host' },
    );
  }
}
