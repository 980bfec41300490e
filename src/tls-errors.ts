/**
 * TLS failures in words an operator can act on, for every peer the tool talks TLS to (Kafka brokers, orderer
 * operations endpoints, Docker engines).
 */

export interface TlsPeer {
  /** "broker", "orderer operations endpoint", "Docker engine". */
  peer: string;
  /** The inventory key of the TLS settings: "kafka.tls", "operationsTls". */
  key: string;
  /** What a port that closes the handshake probably is. */
  plaintextHint: string;
}

/** A TLS failure in words an operator can act on (Node's code kept in parentheses); one line. */
export function describeTlsError(err: NodeJS.ErrnoException, who: TlsPeer): string {
  const code = err.code ?? '';
  // OpenSSL's messages are "80EC...:error:0A000412:SSL routines:ssl3_read_bytes:sslv3 alert bad certificate:..."
  const msg = (err.message.split('\n')[0] ?? '').replace(
    /^[0-9A-F]+:error:[0-9A-F]+:SSL routines:[^:]*:([^:]+).*$/,
    '$1',
  );
  if (
    /alert (bad certificate|certificate unknown|certificate required|unknown ca|handshake failure)/i.test(msg)
  ) {
    return `TLS: the ${who.peer} refused this client (${msg}): it wants a client certificate signed by a CA it trusts; check ${who.key}.cert and ${who.key}.key`;
  }
  if (
    /^(UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|DEPTH_ZERO_SELF_SIGNED_CERT|UNABLE_TO_GET_ISSUER_CERT(_LOCALLY)?|CERT_UNTRUSTED)$/.test(
      code,
    )
  ) {
    return `TLS: the ${who.peer}'s certificate is not signed by a trusted CA (${code}); check ${who.key}.ca`;
  }
  if (code === 'ERR_TLS_CERT_ALTNAME_INVALID') {
    return `TLS: the ${who.peer}'s certificate does not name this address (${msg}); set ${who.key}.servername to a name it has`;
  }
  if (code === 'CERT_HAS_EXPIRED' || code === 'CERT_NOT_YET_VALID')
    return `TLS: the ${who.peer}'s certificate ${code === 'CERT_HAS_EXPIRED' ? 'has expired' : 'is not valid yet'} (${code})`;
  if (code === 'ECONNRESET' || /socket disconnected before secure TLS connection/i.test(msg)) {
    return `TLS handshake failed: the ${who.peer} closed the connection (${who.plaintextHint})`;
  }
  if (/wrong version number|packet length too long|unknown protocol/i.test(msg)) {
    return `TLS handshake failed: the port does not speak TLS (${code || msg})`;
  }
  if (/bad decrypt|bad password/i.test(msg)) {
    return `TLS: cannot read the client key (wrong or missing passphrase? ${who.key}.passphraseEnv)`;
  }
  return `TLS: ${code ? `${code}: ` : ''}${msg}`;
}

/** Node's codes and OpenSSL's words of a TLS failure (as opposed to a refused or timed-out connection). */
export function isTlsError(err: NodeJS.ErrnoException): boolean {
  return (
    /^(ERR_TLS_|ERR_SSL_|UNABLE_TO_|SELF_SIGNED|DEPTH_ZERO|CERT_)/.test(err.code ?? '') ||
    /SSL routines|alert |secure TLS connection|wrong version number|bad decrypt/i.test(err.message)
  );
}
