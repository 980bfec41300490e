/**
 * A Fabric signing identity from an MSP folder (cryptogen's layout: signcerts/*.pem, keystore/<key>): the
 * serialized identity (msp.SerializedIdentity{mspid, id_bytes = the PEM certificate}) that goes into signature
 * headers, and ECDSA signatures as Fabric verifies them: SHA-256 over the message, ASN.1 DER
 * `SEQUENCE { INTEGER r, INTEGER s }`, with s in the lower half of the curve order ("low-S": bccsp/sw/ecdsa.go
 * rejects a high S as malleable).
 */
import { createPrivateKey, createPublicKey, sign, X509Certificate, type KeyObject } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { encodeSerializedIdentity } from './protos.js';

/** Orders of the curves Fabric's default BCCSP supports. */
const CURVE_ORDER: Record<string, bigint> = {
  prime256v1: BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551'),
  secp384r1: BigInt(
    '0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFC7634D81F4372DDF581A0DB248B0A77AECEC196ACCC52973',
  ),
};

export interface SigningIdentity {
  mspId: string;
  /** The PEM certificate as in signcerts/. */
  certPem: string;
  /** msp.SerializedIdentity bytes: the `creator` of signature headers. */
  serialized: Uint8Array;
  /** Low-S DER ECDSA signature over SHA-256(message). */
  sign(message: Uint8Array): Uint8Array;
}

function bigFromBytes(b: Uint8Array): bigint {
  return BigInt(`0x${Buffer.from(b).toString('hex') || '0'}`);
}

function derInteger(v: bigint): Buffer {
  let hex = v.toString(16);
  if (hex.length % 2) hex = `0${hex}`;
  let bytes = Buffer.from(hex, 'hex');
  if ((bytes[0] as number) & 0x80) bytes = Buffer.concat([Buffer.from([0]), bytes]);
  return Buffer.concat([Buffer.from([0x02]), derLength(bytes.length), bytes]);
}

function derLength(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  if (n < 0x100) return Buffer.from([0x81, n]);
  return Buffer.from([0x82, n >> 8, n & 0xff]);
}

/** DER `SEQUENCE { r, s }` with s replaced by n - s when s > n/2. */
export function lowSDer(r: bigint, s: bigint, order: bigint): Uint8Array {
  const lowS = s > order >> 1n ? order - s : s;
  const body = Buffer.concat([derInteger(r), derInteger(lowS)]);
  return new Uint8Array(Buffer.concat([Buffer.from([0x30]), derLength(body.length), body]));
}

/** r and s of a DER ECDSA signature (for tests and checks). */
export function parseDerSignature(der: Uint8Array): { r: bigint; s: bigint } {
  const b = Buffer.from(der);
  let i = 0;
  const readLen = (): number => {
    const first = b[i++] as number;
    if (first < 0x80) return first;
    let n = 0;
    for (let k = 0; k < (first & 0x7f); k++) n = (n << 8) | (b[i++] as number);
    return n;
  };
  if (b[i++] !== 0x30) throw new Error('not a DER sequence');
  readLen();
  const int = (): bigint => {
    if (b[i++] !== 0x02) throw new Error('not a DER integer');
    const len = readLen();
    const v = bigFromBytes(b.subarray(i, i + len));
    i += len;
    return v;
  };
  const r = int();
  const s = int();
  return { r, s };
}

/** Fabric-style ECDSA signature of `message` with `key` (P-256 or P-384). */
export function fabricSign(key: KeyObject, message: Uint8Array): Uint8Array {
  const curve = key.asymmetricKeyDetails?.namedCurve ?? '';
  const order = CURVE_ORDER[curve];
  if (!order)
    throw new Error(`unsupported key: ${key.asymmetricKeyType ?? '?'} ${curve} (ECDSA P-256/P-384 only)`);
  const raw = sign('sha256', message, { key, dsaEncoding: 'ieee-p1363' });
  const half = raw.length / 2;
  return lowSDer(bigFromBytes(raw.subarray(0, half)), bigFromBytes(raw.subarray(half)), order);
}

/** The identity in a cryptogen/Fabric CA MSP folder: signcerts/<one>.pem and keystore/<one key>. */
export function loadMspIdentity(mspDir: string, mspId: string): SigningIdentity {
  const certs = readdirSync(join(mspDir, 'signcerts')).filter((f) => f.endsWith('.pem'));
  if (certs.length !== 1) throw new Error(`${mspDir}/signcerts: expected one .pem, found ${certs.length}`);
  const keys = readdirSync(join(mspDir, 'keystore'));
  if (keys.length !== 1) throw new Error(`${mspDir}/keystore: expected one key, found ${keys.length}`);
  const certPem = readFileSync(join(mspDir, 'signcerts', certs[0] as string), 'utf8');
  const key = createPrivateKey(readFileSync(join(mspDir, 'keystore', keys[0] as string)));
  // The key must be the certificate's: a mismatch is only noticed by the orderer otherwise.
  const certKey = new X509Certificate(certPem).publicKey.export({ format: 'der', type: 'spki' });
  const ownKey = createPublicKey(key).export({ format: 'der', type: 'spki' });
  if (!Buffer.from(certKey).equals(Buffer.from(ownKey)))
    throw new Error(`${mspDir}: the key in keystore/ does not belong to the certificate in signcerts/`);
  return {
    mspId,
    certPem,
    serialized: encodeSerializedIdentity(mspId, new TextEncoder().encode(certPem)),
    sign: (message) => fabricSign(key, message),
  };
}
