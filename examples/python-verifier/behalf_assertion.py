"""A verifier of behalf assertions, ordinary and batched, written from docs/batched-assertions.md
and docs/backend.md alone, with Python's standard library and the openssl command for the ES256
signature. It shows a backend in another language can check both forms; it is a reference for
porting, not a hardened library: it keeps no root cache and no replay cache.

    python3 behalf_assertion.py <vectors.json>

checks every case of the published test vectors and prints one line per case: `ok` or `FAIL`.
"""

import base64
import hashlib
import json
import os
import subprocess
import sys
import tempfile

ASSERTION_TYPE = "behalf-assertion+jwt"
BATCH_ROOT_TYPE = "behalf-batch+jwt"
REQUIRED = ["iss", "aud", "sub", "jti", "iat", "exp", "htm", "htu", "bdg", "idp_iss"]
MAX_LIFETIME = 60
ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


class Refused(Exception):
    def __init__(self, code):
        super().__init__(code)
        self.code = code


def b64url_decode(text):
    """Canonical base64url only: the alphabet, no lone character, unused bits zero."""
    if any(c not in ALPHABET for c in text) or len(text) % 4 == 1:
        raise Refused("assertion-invalid")
    rest = len(text) % 4
    if rest and ALPHABET.index(text[-1]) & (0x0F if rest == 2 else 0x03):
        raise Refused("assertion-invalid")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sha256(data):
    return hashlib.sha256(data).digest()


def node_hash(left, right):
    return sha256(b"\x01" + left + right)


def root_from_proof(leaf_hash, index, size, path):
    """RFC 9162 section 2.1.3.2."""
    if index >= size:
        return None
    fn, sn, r = index, size - 1, leaf_hash
    for p in path:
        if sn == 0:
            return None
        if fn % 2 == 1 or fn == sn:
            r = node_hash(p, r)
            if fn % 2 == 0:
                while fn % 2 == 0 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node_hash(r, p)
        fn >>= 1
        sn >>= 1
    return r if sn == 0 else None


def der_integer(raw):
    raw = raw.lstrip(b"\x00") or b"\x00"
    if raw[0] & 0x80:
        raw = b"\x00" + raw
    return b"\x02" + bytes([len(raw)]) + raw


def es256_verify(jwk, signing_input, signature):
    """ECDSA P-256 with SHA-256 through `openssl dgst`; `signature` is r || s (JWS form)."""
    if len(signature) != 64:
        return False
    spki = bytes.fromhex("3059301306072a8648ce3d020106082a8648ce3d030107034200") + b"\x04" + b64url_decode(jwk["x"]) + b64url_decode(jwk["y"])
    body = der_integer(signature[:32]) + der_integer(signature[32:])
    der_sig = b"\x30" + bytes([len(body)]) + body
    with tempfile.TemporaryDirectory() as tmp:
        key_path, sig_path = os.path.join(tmp, "key.der"), os.path.join(tmp, "sig.der")
        with open(key_path, "wb") as f:
            f.write(spki)
        with open(sig_path, "wb") as f:
            f.write(der_sig)
        done = subprocess.run(["openssl", "dgst", "-sha256", "-keyform", "DER", "-verify", key_path, "-signature", sig_path], input=signing_input, capture_output=True)
        return done.returncode == 0


def verify_jws(token, jwks, typ):
    """The payload of a compact JWS signed by a key of `jwks` with header `typ`, else refused."""
    parts = token.split(".")
    if len(parts) != 3:
        raise Refused("assertion-invalid")
    header = json.loads(b64url_decode(parts[0]))
    if header.get("alg") != "ES256" or header.get("typ") != typ:
        raise Refused("assertion-invalid")
    key = next((k for k in jwks["keys"] if k.get("kid") == header.get("kid")), None)
    if key is None or not es256_verify(key, f"{parts[0]}.{parts[1]}".encode(), b64url_decode(parts[2])):
        raise Refused("assertion-invalid")
    return json.loads(b64url_decode(parts[1]))


def check_times(claims, now, tolerance):
    iat, exp = claims.get("iat"), claims.get("exp")
    if not isinstance(iat, int) or not isinstance(exp, int) or exp - iat > MAX_LIFETIME:
        raise Refused("assertion-invalid")
    if exp <= now - tolerance:
        raise Refused("assertion-expired")
    if iat > now + tolerance:
        raise Refused("assertion-invalid")
    if now - iat > MAX_LIFETIME + tolerance:
        raise Refused("assertion-expired")


def batched_claims(value, cfg, now):
    parts = value.split("~")
    if len(parts) != 3 or "." not in parts[2]:
        raise Refused("assertion-invalid")
    signed_root, leaf_text, proof = parts
    index_text, path_text = proof.split(".", 1)
    if not index_text.isdigit() or (len(index_text) > 1 and index_text[0] == "0") or int(index_text) >= 65535 or leaf_text == "":
        raise Refused("assertion-invalid")
    leaf, path = b64url_decode(leaf_text), b64url_decode(path_text)
    if len(path) % 32:
        raise Refused("assertion-invalid")
    root = verify_jws(signed_root, cfg["jwks"], BATCH_ROOT_TYPE)
    if root.get("iss") != cfg["issuer"]:
        raise Refused("assertion-invalid")
    check_times(root, now, cfg["clockToleranceSeconds"])
    size = root.get("size")
    if not isinstance(size, int) or not 2 <= size <= 65535 or not isinstance(root.get("root"), str):
        raise Refused("assertion-invalid")
    hashes = [path[i : i + 32] for i in range(0, len(path), 32)]
    if root_from_proof(sha256(b"\x00" + leaf), int(index_text), size, hashes) != b64url_decode(root["root"]):
        raise Refused("assertion-invalid")
    claims = json.loads(leaf)
    if not isinstance(claims, dict) or any(name not in claims for name in REQUIRED) or claims["iss"] != cfg["issuer"]:
        raise Refused("assertion-invalid")
    if claims["aud"] != cfg["audience"]:
        raise Refused("assertion-audience-mismatch")
    if claims["iat"] != root["iat"] or claims["exp"] > root["exp"]:
        raise Refused("assertion-invalid")
    return claims


def plain_claims(value, cfg):
    claims = verify_jws(value, cfg["jwks"], ASSERTION_TYPE)
    if any(name not in claims for name in REQUIRED) or claims["iss"] != cfg["issuer"]:
        raise Refused("assertion-invalid")
    if claims["aud"] != cfg["audience"]:
        raise Refused("assertion-audience-mismatch")
    return claims


def verify(value, request, cfg, now):
    """The user the assertion vouches for on `request`, or Refused with the reason code."""
    claims = batched_claims(value, cfg, now) if "~" in value else plain_claims(value, cfg)
    check_times(claims, now, cfg["clockToleranceSeconds"])
    if request["method"] != claims["htm"]:
        raise Refused("assertion-request-mismatch")
    if "htq" in claims:
        target, _, query = request["url"].partition("?")
        if target != claims["htu"] or "sha256:" + base64.urlsafe_b64encode(sha256(query.encode())).rstrip(b"=").decode() != claims["htq"]:
            raise Refused("assertion-request-mismatch")
    elif request["url"] != claims["htu"]:
        raise Refused("assertion-request-mismatch")
    body = request.get("body", "").encode()
    if "sha256:" + base64.urlsafe_b64encode(sha256(body)).rstrip(b"=").decode() != claims["bdg"]:
        raise Refused("assertion-body-mismatch")
    return claims["sub"]


def main():
    with open(sys.argv[1]) as f:
        vectors = json.load(f)
    failures = 0
    for tree in vectors["merkle"]:
        leaves = [sha256(b"\x00" + leaf.encode()) for leaf in tree["leaves"]]
        for proof in tree["proofs"]:
            got = root_from_proof(leaves[proof["index"]], proof["index"], len(leaves), [bytes.fromhex(h) for h in proof["path"]])
            ok = got is not None and got.hex() == tree["root"]
            failures += not ok
            print(f"{'ok' if ok else 'FAIL'}  merkle {len(leaves)} leaves, proof of {proof['index']}")
    cfg = vectors["assertions"]
    for case in cfg["cases"]:
        try:
            got = "valid" if verify(case["header"], case["request"], cfg, case.get("now", cfg["now"])) == case.get("user") else "wrong user"
        except Refused as refused:
            got = refused.code
        ok = got == case["expect"]
        failures += not ok
        print(f"{'ok' if ok else 'FAIL'}  {case['name']}: expected {case['expect']}, got {got}")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
