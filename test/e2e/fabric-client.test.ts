/**
 * The Fabric client's offline parts (no lab, no orderer): Fabric-style ECDSA signatures (DER, low-S, verifiable
 * as ECDSA-with-SHA256), signed envelopes and the channel creation signing.
 */
import { createHash, createPublicKey, generateKeyPairSync, verify } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  computeTxId,
  decodeChannelHeader,
  decodeEnvelope,
  decodePayload,
  fabricSign,
  HeaderType,
  lowSDer,
  messageEnvelope,
  parseDerSignature,
  seekEnvelope,
  signChannelCreateTx,
  type SigningIdentity,
} from '../../src/fabric/client/index.js';
import { clientTypes } from '../../src/fabric/client/protos.js';

const N = BigInt('0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551');

function identity(): SigningIdentity & { verifyKey: ReturnType<typeof createPublicKey> } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  return {
    mspId: 'Org1MSP',
    certPem: '-----BEGIN CERTIFICATE-----\n(test)\n-----END CERTIFICATE-----\n',
    serialized: new TextEncoder().encode('creator'),
    sign: (m) => fabricSign(privateKey, m),
    verifyKey: publicKey,
  };
}

describe('Fabric signatures', () => {
  it('are DER ECDSA-with-SHA256 with S in the lower half of the order', () => {
    const id = identity();
    for (let i = 0; i < 40; i++) {
      const msg = new TextEncoder().encode(`message ${i}`);
      const sig = id.sign(msg);
      const { s } = parseDerSignature(sig);
      expect(s <= N >> 1n).toBe(true);
      expect(verify('sha256', msg, id.verifyKey, Buffer.from(sig))).toBe(true);
    }
  });

  it('lowSDer flips a high S and encodes integers minimally', () => {
    const high = N - 5n;
    const { r, s } = parseDerSignature(lowSDer(0x80n, high, N));
    expect(s).toBe(5n);
    expect(r).toBe(0x80n);
    // 0x80 needs a leading zero byte to stay positive: 02 02 00 80
    expect(Buffer.from(lowSDer(0x80n, 1n, N)).toString('hex')).toBe('3007020200800201' + '01');
  });
});

describe('envelopes', () => {
  it('a MESSAGE envelope: header, tx id from nonce and creator, signature over the payload', () => {
    const id = identity();
    const env = messageEnvelope('pubchain', new TextEncoder().encode('hello'), id);
    const e = decodeEnvelope(env.bytes);
    expect(verify('sha256', e.payload, id.verifyKey, Buffer.from(e.signature))).toBe(true);
    const p = decodePayload(e.payload);
    expect(Buffer.from(p.data).toString()).toBe('hello');
    const ch = decodeChannelHeader(p.channelHeader);
    expect(ch).toMatchObject({ type: HeaderType.MESSAGE, channelId: 'pubchain', txId: env.txId });
    const sh = clientTypes.SignatureHeader.toObject(
      clientTypes.SignatureHeader.decode(p.signatureHeader),
    ) as {
      creator: Uint8Array;
      nonce: Uint8Array;
    };
    expect(Buffer.from(sh.creator).toString()).toBe('creator');
    expect(sh.nonce).toHaveLength(24);
    expect(env.txId).toBe(computeTxId(sh.nonce, sh.creator));
    expect(env.txId).toBe(
      createHash('sha256')
        .update(Buffer.concat([sh.nonce, sh.creator]))
        .digest('hex'),
    );
  });

  it('a seek envelope is DELIVER_SEEK_INFO and can ask for blocks up to uint64 max', () => {
    const id = identity();
    const env = seekEnvelope('pubchain', { start: 'oldest' }, id);
    const p = decodePayload(decodeEnvelope(env.bytes).payload);
    expect(decodeChannelHeader(p.channelHeader).type).toBe(HeaderType.DELIVER_SEEK_INFO);
    const seek = clientTypes.SeekInfo.toObject(clientTypes.SeekInfo.decode(p.data), { longs: String }) as {
      start: { oldest?: object };
      stop: { specified: { number: string } };
      behavior?: number;
    };
    expect(seek.start.oldest).toBeDefined();
    expect(seek.stop.specified.number).toBe('18446744073709551615');
  });

  it('signs a configtxgen channel creation tx as peer channel create does', () => {
    const admin = identity();
    // What configtxgen -outputCreateChannelTx writes: an unsigned CONFIG_UPDATE envelope.
    const configUpdate = new TextEncoder().encode('config-update-bytes');
    const channelHeader = clientTypes.ChannelHeader.encode(
      clientTypes.ChannelHeader.create({ type: HeaderType.CONFIG_UPDATE, channelId: 'pubchain' }),
    ).finish();
    const data = clientTypes.ConfigUpdateEnvelope.encode(
      clientTypes.ConfigUpdateEnvelope.create({ configUpdate }),
    ).finish();
    const payload = clientTypes.Payload.encode(
      clientTypes.Payload.create({ header: { channelHeader }, data }),
    ).finish();
    const tx = clientTypes.Envelope.encode(clientTypes.Envelope.create({ payload })).finish();

    expect(() => signChannelCreateTx(tx, 'otherchain', admin)).toThrow(/creates channel "pubchain"/);
    const signed = signChannelCreateTx(tx, 'pubchain', admin);
    const e = decodeEnvelope(signed.bytes);
    expect(verify('sha256', e.payload, admin.verifyKey, Buffer.from(e.signature))).toBe(true);
    const p = decodePayload(e.payload);
    expect(decodeChannelHeader(p.channelHeader)).toMatchObject({
      type: HeaderType.CONFIG_UPDATE,
      channelId: 'pubchain',
    });
    const cue = clientTypes.ConfigUpdateEnvelope.toObject(
      clientTypes.ConfigUpdateEnvelope.decode(p.data),
    ) as {
      configUpdate: Uint8Array;
      signatures: { signatureHeader: Uint8Array; signature: Uint8Array }[];
    };
    expect(Buffer.from(cue.configUpdate).toString()).toBe('config-update-bytes');
    expect(cue.signatures).toHaveLength(1);
    const sig = cue.signatures[0]!;
    const signedBytes = Buffer.concat([sig.signatureHeader, cue.configUpdate]);
    expect(verify('sha256', signedBytes, admin.verifyKey, Buffer.from(sig.signature))).toBe(true);
  });
});
