// Written by clic (layer chat). The part of Web Crypto that converse.js
// needs, for pages served over plain http:// on the box's hotspot.
//
// Browsers give `crypto.subtle` to secure contexts only (https:// or
// localhost), and a phone on the box reaches http://clic.lan/chat/. Without
// it converse cannot hash its entity capabilities (SHA-1), so joining a room
// never ends, and cannot log in with SCRAM (HMAC, PBKDF2). When the browser
// has no `crypto.subtle`, this defines digest (SHA-1, SHA-256), importKey
// ("raw", HMAC or PBKDF2), sign (HMAC) and deriveBits (PBKDF2), in plain
// JavaScript. When it has one (https://, localhost), this does nothing.
'use strict';
(function () {
  if (!window.crypto || window.crypto.subtle) return;

  function bytes(data) {
    if (data instanceof ArrayBuffer) return new Uint8Array(data.slice(0));
    if (ArrayBuffer.isView(data)) {
      return new Uint8Array(data.buffer.slice(data.byteOffset, data.byteOffset + data.byteLength));
    }
    throw new TypeError('clic-subtle: data is not a BufferSource');
  }

  // Pads a message as SHA-1 and SHA-256 both do: 0x80, zeros, the length
  // in bits as a 64-bit big-endian number; returns 32-bit big-endian words.
  function words(m) {
    var n = (((m.length + 8) >> 6) + 1) << 4;
    var w = new Array(n).fill(0);
    for (var i = 0; i < m.length; i++) w[i >> 2] |= m[i] << (24 - (i % 4) * 8);
    w[m.length >> 2] |= 0x80 << (24 - (m.length % 4) * 8);
    w[n - 2] = Math.floor(m.length / 0x20000000);
    w[n - 1] = (m.length * 8) >>> 0;
    return w;
  }

  function out(h) {
    var r = new Uint8Array(h.length * 4);
    for (var i = 0; i < h.length; i++) {
      r[i * 4] = h[i] >>> 24; r[i * 4 + 1] = h[i] >>> 16;
      r[i * 4 + 2] = h[i] >>> 8; r[i * 4 + 3] = h[i];
    }
    return r;
  }

  function rotl(x, n) { return (x << n) | (x >>> (32 - n)); }
  function rotr(x, n) { return (x >>> n) | (x << (32 - n)); }

  function sha1(m) {
    var w = words(m), x = new Array(80);
    var h = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476, 0xc3d2e1f0];
    for (var b = 0; b < w.length; b += 16) {
      var a = h[0], c1 = h[1], c = h[2], d = h[3], e = h[4];
      for (var t = 0; t < 80; t++) {
        x[t] = t < 16 ? w[b + t] : rotl(x[t - 3] ^ x[t - 8] ^ x[t - 14] ^ x[t - 16], 1);
        var f, k;
        if (t < 20) { f = (c1 & c) | (~c1 & d); k = 0x5a827999; }
        else if (t < 40) { f = c1 ^ c ^ d; k = 0x6ed9eba1; }
        else if (t < 60) { f = (c1 & c) | (c1 & d) | (c & d); k = 0x8f1bbcdc; }
        else { f = c1 ^ c ^ d; k = 0xca62c1d6; }
        var tmp = (rotl(a, 5) + f + e + k + x[t]) | 0;
        e = d; d = c; c = rotl(c1, 30); c1 = a; a = tmp;
      }
      h[0] = (h[0] + a) | 0; h[1] = (h[1] + c1) | 0; h[2] = (h[2] + c) | 0;
      h[3] = (h[3] + d) | 0; h[4] = (h[4] + e) | 0;
    }
    return out(h);
  }

  var K256 = [
    0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
    0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
    0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
    0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
    0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
    0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
    0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
    0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2
  ];

  function sha256(m) {
    var w = words(m), x = new Array(64);
    var h = [0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19];
    for (var b = 0; b < w.length; b += 16) {
      var v = h.slice();
      for (var t = 0; t < 64; t++) {
        if (t < 16) x[t] = w[b + t];
        else {
          var s0 = rotr(x[t - 15], 7) ^ rotr(x[t - 15], 18) ^ (x[t - 15] >>> 3);
          var s1 = rotr(x[t - 2], 17) ^ rotr(x[t - 2], 19) ^ (x[t - 2] >>> 10);
          x[t] = (x[t - 16] + s0 + x[t - 7] + s1) | 0;
        }
        var S1 = rotr(v[4], 6) ^ rotr(v[4], 11) ^ rotr(v[4], 25);
        var ch = (v[4] & v[5]) ^ (~v[4] & v[6]);
        var t1 = (v[7] + S1 + ch + K256[t] + x[t]) | 0;
        var S0 = rotr(v[0], 2) ^ rotr(v[0], 13) ^ rotr(v[0], 22);
        var maj = (v[0] & v[1]) ^ (v[0] & v[2]) ^ (v[1] & v[2]);
        var t2 = (S0 + maj) | 0;
        v[7] = v[6]; v[6] = v[5]; v[5] = v[4]; v[4] = (v[3] + t1) | 0;
        v[3] = v[2]; v[2] = v[1]; v[1] = v[0]; v[0] = (t1 + t2) | 0;
      }
      for (var i = 0; i < 8; i++) h[i] = (h[i] + v[i]) | 0;
    }
    return out(h);
  }

  var HASHES = { 'SHA-1': sha1, 'SHA-256': sha256 };

  function hashName(alg) {
    var name = (typeof alg === 'string' ? alg : alg && alg.name || '').toUpperCase();
    if (!HASHES[name]) throw new DOMException('clic-subtle: no ' + name, 'NotSupportedError');
    return name;
  }

  function hmac(hash, key, msg) {
    var f = HASHES[hash];
    if (key.length > 64) key = f(key);
    var inner = new Uint8Array(64 + msg.length), outer = new Uint8Array(64 + (hash === 'SHA-1' ? 20 : 32));
    for (var i = 0; i < 64; i++) {
      var k = i < key.length ? key[i] : 0;
      inner[i] = k ^ 0x36; outer[i] = k ^ 0x5c;
    }
    inner.set(msg, 64);
    outer.set(f(inner), 64);
    return f(outer);
  }

  function pbkdf2(hash, password, salt, iterations, bits) {
    var len = bits / 8, result = new Uint8Array(len), block = 1, done = 0;
    while (done < len) {
      var s = new Uint8Array(salt.length + 4);
      s.set(salt);
      s[salt.length] = block >>> 24; s[salt.length + 1] = block >>> 16;
      s[salt.length + 2] = block >>> 8; s[salt.length + 3] = block;
      var u = hmac(hash, password, s), t = u.slice();
      for (var i = 1; i < iterations; i++) {
        u = hmac(hash, password, u);
        for (var j = 0; j < t.length; j++) t[j] ^= u[j];
      }
      result.set(t.subarray(0, Math.min(t.length, len - done)), done);
      done += t.length;
      block++;
    }
    return result;
  }

  function run(f) {
    return new Promise(function (resolve) { resolve(f()); });
  }

  var subtle = {
    digest: function (alg, data) {
      return run(function () { return HASHES[hashName(alg)](bytes(data)).buffer; });
    },
    importKey: function (format, data, alg, extractable, usages) {
      return run(function () {
        if (format !== 'raw') throw new DOMException('clic-subtle: only raw keys', 'NotSupportedError');
        var name = (typeof alg === 'string' ? alg : alg.name).toUpperCase();
        var algorithm = { name: name };
        if (name === 'HMAC') algorithm.hash = { name: hashName(alg.hash) };
        else if (name !== 'PBKDF2') throw new DOMException('clic-subtle: no ' + name, 'NotSupportedError');
        return { type: 'secret', extractable: !!extractable, algorithm: algorithm, usages: usages, raw: bytes(data) };
      });
    },
    sign: function (alg, key, data) {
      return run(function () {
        if (key.algorithm.name !== 'HMAC') throw new DOMException('clic-subtle: sign is HMAC only', 'NotSupportedError');
        return hmac(key.algorithm.hash.name, key.raw, bytes(data)).buffer;
      });
    },
    deriveBits: function (alg, key, bits) {
      return run(function () {
        if (alg.name.toUpperCase() !== 'PBKDF2' || key.algorithm.name !== 'PBKDF2' || bits % 8) {
          throw new DOMException('clic-subtle: deriveBits is PBKDF2 only', 'NotSupportedError');
        }
        return pbkdf2(hashName(alg.hash), key.raw, bytes(alg.salt), alg.iterations, bits).buffer;
      });
    }
  };
  Object.defineProperty(window.crypto, 'subtle', { value: subtle, configurable: true });
})();
