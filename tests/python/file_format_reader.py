#!/usr/bin/env python3
"""An independent reader of the Cloister encrypted file format, written from
docs/file-format.md alone (no Cloister code), run against the checked-in
test vector: proves the spec is enough to interoperate.

    file_format_reader.py files/testdata
"""
import hashlib
import struct
import sys

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"CLSTRFIL"
HEADER = 40
TAG = 16


class FormatError(Exception):
    pass


def decrypt(key: bytes, blob: bytes) -> bytes:
    if len(blob) < HEADER or blob[:8] != MAGIC:
        raise FormatError("FILE_NOT_CLOISTER_FORMAT")
    version, flags, chunk_size = struct.unpack(">HHI", blob[8:16])
    if version != 1:
        raise FormatError("FILE_FORMAT_VERSION_UNSUPPORTED %d" % version)
    if flags != 0 or not (1024 <= chunk_size <= 16 << 20):
        raise FormatError("FILE_HEADER_MALFORMED")
    file_id = blob[16:32]
    (length,) = struct.unpack(">Q", blob[32:40])
    n = max(1, -(-length // chunk_size))
    header_digest = hashlib.sha256(blob[:HEADER]).digest()
    if len(blob) != HEADER + length + n * TAG:
        raise FormatError("FILE_TRUNCATED or FILE_TRAILING_DATA")
    gcm = AESGCM(key)
    out, off = [], HEADER
    for i in range(n):
        size = chunk_size if i < n - 1 else length - (n - 1) * chunk_size
        nonce = hashlib.sha256(b"cloister-file-nonce-v1" + file_id + struct.pack(">Q", i)).digest()[:12]
        aad = header_digest + struct.pack(">Q", i) + (b"\x01" if i == n - 1 else b"\x00")
        try:
            out.append(gcm.decrypt(nonce, blob[off:off + size + TAG], aad))
        except Exception:
            raise FormatError("FILE_CHUNK_AUTH_FAILED at chunk %d" % i)
        off += size + TAG
    return b"".join(out)


def main() -> int:
    d = sys.argv[1]
    key = bytes.fromhex(open(d + "/vector1.key").read().strip())
    blob = open(d + "/vector1.cloister", "rb").read()
    plain = open(d + "/vector1.plain", "rb").read()
    assert decrypt(key, blob) == plain, "vector does not decrypt to vector1.plain"
    # A changed byte in the last chunk must fail, by name.
    bad = bytearray(blob)
    bad[-1] ^= 1
    try:
        decrypt(key, bytes(bad))
        raise AssertionError("a tampered vector decrypted")
    except FormatError as e:
        assert "FILE_CHUNK_AUTH_FAILED" in str(e), str(e)
    print("independent reader: vector1 OK (%d bytes)" % len(plain))
    return 0


if __name__ == "__main__":
    sys.exit(main())
