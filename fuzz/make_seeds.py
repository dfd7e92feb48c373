#!/usr/bin/env python3
"""Writes the hand-made seeds of fuzz/corpus/token_verify (seed-*.txt / seed-*.bin).

The fuzzer adds its own finds next to them; `cargo fuzz cmin` keeps the set small.
Tokens are signed with the fuzz target's secret (32 bytes of 7) and, where they should
verify, expire in 2100 so they stay valid.
"""
import base64, hashlib, hmac, json, os, uuid

SECRET = bytes([7] * 32)
KID = base64.urlsafe_b64encode(hashlib.sha256(SECRET).digest()[:9]).rstrip(b"=").decode()
OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus", "token_verify")
USER = "0190a5a4-7c3e-7d2a-9b1e-3f4a5b6c7d8e"
FAR, PAST = 4102444800, 1600000000


def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def js(v):
    return json.dumps(v, separators=(",", ":")).encode()


def token(header, claims, key=SECRET, digest=hashlib.sha256, sig=True):
    si = f"{b64(js(header))}.{b64(js(claims))}"
    if not sig:
        return si + "."
    return si + "." + b64(hmac.new(key, si.encode(), digest).digest())


def claims(**kw):
    c = {"sub": USER, "username": "alice", "iss": "iss", "aud": "aud",
         "iat": 1700000000, "exp": FAR, "jti": "j1"}
    c.update(kw)
    return {k: v for k, v in c.items() if v is not None}


hs = {"alg": "HS256", "typ": "JWT", "kid": KID}
seeds = {
    "valid-user.txt": token(hs, claims()),
    "valid-user-no-kid.txt": token({"alg": "HS256"}, claims()),
    "valid-service.txt": token(hs, claims(sub=str(uuid.UUID(int=0)), username="todo-service", aud="aud#internal")),
    "alg-none.txt": token({"alg": "none", "typ": "JWT"}, claims(), sig=False),
    "alg-none-upper.txt": token({"alg": "NONE"}, claims(), sig=False),
    "alg-hs384.txt": token({"alg": "HS384", "kid": KID}, claims(), digest=hashlib.sha384),
    "expired.txt": token(hs, claims(iat=PAST - 900, exp=PAST)),
    "wrong-aud.txt": token(hs, claims(aud="other")),
    "aud-array.txt": token(hs, claims(aud=["aud", "aud#internal"])),
    "sub-not-uuid.txt": token(hs, claims(sub="alice")),
    "no-exp.txt": token(hs, claims(exp=None)),
    "wrong-key.txt": token({"alg": "HS256"}, claims(), key=bytes([8] * 32)),
    "unknown-kid.txt": token({"alg": "HS256", "kid": "nope"}, claims()),
    "bearer-valid.txt": "Bearer " + token(hs, claims()),
    "bearer-lower-spaces.txt": "bearer   " + token(hs, claims()) + "  ",
    "basic.txt": "Basic dXNlcjpwYXNz",
    "bearer-empty.txt": "Bearer ",
    "garbage-dots.txt": "a.b.c",
    "garbage-many-dots.txt": "....",
    "garbage-b64.txt": "eyJ.eyJ.AAAA",
}
raw = {
    # <header JSON> NUL <claims JSON>: the target signs these with the right key.
    "signed-valid.bin": js(hs) + b"\0" + js(claims()),
    "signed-no-kid.bin": js({"alg": "HS256"}) + b"\0" + js(claims()),
    "signed-exp-string.bin": js(hs) + b"\0" + js(claims(exp="4102444800")),
    "signed-iat-negative.bin": js(hs) + b"\0" + js(claims(iat=-1)),
    "signed-exp-huge.bin": js(hs) + b"\0" + js(claims(exp=18446744073709551615)),
    "signed-service.bin": js(hs) + b"\0" + js(claims(aud="aud#internal")),
    "signed-alg-none.bin": js({"alg": "none"}) + b"\0" + js(claims()),
    "garbage.bin": bytes(range(0, 256, 7)),
    "header-obs-text.bin": b"Bearer \xfa\xfb",
}
os.makedirs(OUT, exist_ok=True)
for name, text in seeds.items():
    with open(os.path.join(OUT, "seed-" + name), "w") as f:
        f.write(text)
for name, data in raw.items():
    with open(os.path.join(OUT, "seed-" + name), "wb") as f:
        f.write(data)
print(f"wrote {len(seeds) + len(raw)} seeds to {OUT}")
