/**
 * Signed envelopes as Fabric builds them (protoutil): payload = {header: {channel_header, signature_header},
 * data}, signature = the creator's signature over the payload bytes.
 */
import { createHash, randomBytes } from 'node:crypto';
import type { SigningIdentity } from './identity.js';
import {
  decodeChannelHeader,
  decodeConfigUpdateEnvelope,
  decodeEnvelope,
  decodePayload,
  encodeChannelHeader,
  encodeConfigUpdateEnvelope,
  encodeEnvelope,
  encodePayload,
  encodeSeekInfo,
  encodeSignatureHeader,
  HeaderType,
  SeekBehavior,
  SEEK_MAX,
  type SeekPos,
} from './protos.js';

export interface SignedEnvelope {
  /** The encoded common.Envelope. */
  bytes: Uint8Array;
  /** The channel header's tx_id (sha256(nonce || creator), hex, as protoutil.ComputeTxID). */
  txId: string;
}

/** protoutil.ComputeTxID: hex(sha256(nonce || creator)). */
export function computeTxId(nonce: Uint8Array, creator: Uint8Array): string {
  return createHash('sha256').update(nonce).update(creator).digest('hex');
}

/** A fresh signature header: the signer's serialized identity and a 24-byte random nonce. */
export function newSignatureHeader(signer: SigningIdentity): { bytes: Uint8Array; nonce: Uint8Array } {
  const nonce = new Uint8Array(randomBytes(24));
  return { bytes: encodeSignatureHeader(signer.serialized, nonce), nonce };
}

export interface EnvelopeSpec {
  /** common.HeaderType (HeaderType.MESSAGE, ENDORSER_TRANSACTION, CONFIG_UPDATE, DELIVER_SEEK_INFO...). */
  type: number;
  channelId: string;
  data: Uint8Array;
  signer: SigningIdentity;
  /** Default now (the orderer checks Deliver timestamps against Authentication.TimeWindow). */
  timestamp?: Date;
  /** Set the tx_id from nonce and creator (default true). */
  withTxId?: boolean;
}

/** A signed envelope (protoutil.CreateSignedEnvelope). */
export function signedEnvelope(spec: EnvelopeSpec): SignedEnvelope {
  const sh = newSignatureHeader(spec.signer);
  const txId = spec.withTxId === false ? '' : computeTxId(sh.nonce, spec.signer.serialized);
  const payload = encodePayload({
    channelHeader: encodeChannelHeader({
      type: spec.type,
      channelId: spec.channelId,
      txId,
      ...(spec.timestamp ? { timestamp: spec.timestamp } : {}),
    }),
    signatureHeader: sh.bytes,
    data: spec.data,
  });
  return { bytes: encodeEnvelope({ payload, signature: spec.signer.sign(payload) }), txId };
}

/**
 * A transaction the orderer orders without looking inside: a MESSAGE envelope with `data` as its payload data,
 * signed by `signer` (it must satisfy the channel's /Channel/Writers policy).
 */
export function messageEnvelope(
  channelId: string,
  data: Uint8Array,
  signer: SigningIdentity,
): SignedEnvelope {
  return signedEnvelope({ type: HeaderType.MESSAGE, channelId, data, signer });
}

/**
 * What `peer channel create` does with configtxgen's `-outputCreateChannelTx` file: check it is a CONFIG_UPDATE
 * for `channelId`, add `admin`'s ConfigSignature (signature over signature_header || config_update) to its
 * ConfigUpdateEnvelope, and wrap that in a new CONFIG_UPDATE envelope signed by `admin`.
 */
export function signChannelCreateTx(
  createTx: Uint8Array,
  channelId: string,
  admin: SigningIdentity,
  extraSigners: SigningIdentity[] = [],
): SignedEnvelope {
  const env = decodeEnvelope(createTx);
  const payload = decodePayload(env.payload);
  const ch = decodeChannelHeader(payload.channelHeader);
  if (ch.type !== HeaderType.CONFIG_UPDATE)
    throw new Error(`not a config update transaction (header type ${ch.type})`);
  if (ch.channelId !== channelId)
    throw new Error(`the transaction creates channel "${ch.channelId}", not "${channelId}"`);
  const cue = decodeConfigUpdateEnvelope(payload.data);
  for (const s of [admin, ...extraSigners]) {
    const sh = newSignatureHeader(s).bytes;
    const toSign = new Uint8Array(sh.length + cue.configUpdate.length);
    toSign.set(sh, 0);
    toSign.set(cue.configUpdate, sh.length);
    cue.signatures.push({ signatureHeader: sh, signature: s.sign(toSign) });
  }
  return signedEnvelope({
    type: HeaderType.CONFIG_UPDATE,
    channelId,
    data: encodeConfigUpdateEnvelope(cue),
    signer: admin,
    withTxId: false,
  });
}

export interface SeekSpec {
  start: SeekPos;
  /** Default: never stop (follow the chain). */
  stop?: SeekPos;
  /** Default: FAIL_IF_NOT_READY when a stop is given, BLOCK_UNTIL_READY otherwise. */
  behavior?: keyof typeof SeekBehavior;
}

/** A signed DELIVER_SEEK_INFO envelope (the signer must satisfy /Channel/Readers). */
export function seekEnvelope(channelId: string, seek: SeekSpec, signer: SigningIdentity): SignedEnvelope {
  const behavior = seek.behavior ?? (seek.stop !== undefined ? 'FAIL_IF_NOT_READY' : 'BLOCK_UNTIL_READY');
  return signedEnvelope({
    type: HeaderType.DELIVER_SEEK_INFO,
    channelId,
    data: encodeSeekInfo(seek.start, seek.stop ?? SEEK_MAX, SeekBehavior[behavior]),
    signer,
  });
}
