#!/usr/bin/env python3
"""Verify Standard Webhooks v1a (Ed25519) signatures, independently of Tidings.

No official Standard Webhooks or Svix library verifies v1a yet, so this follows the spec
text (standard-webhooks.md, "Signature scheme" and "Asymmetric signatures") with the
PyPI `cryptography` package, and shares no code with Tidings:

- the signed content is `{webhook-id}.{webhook-timestamp}.{body}`, the body exactly as sent;
- `webhook-signature` is a space-separated list of `<version>,<base64 signature>`, and any
  one `v1a` signature that verifies is enough (other versions are ignored);
- the public key is `whpk_` followed by the base64 of the 32-byte Ed25519 public key;
- a `webhook-timestamp` more than 5 minutes from now is refused.

Used by the Rust tests (run with $TIDINGS_TEST_PYTHON, the .venv that scripts/test sets up).

stdin:  a JSON array of objects
          {"public_key": "whpk_...",
           "headers": {"webhook-id": "...", "webhook-timestamp": "...", "webhook-signature": "..."},
           "body": "<raw body string, exactly as sent>",
           "now": <optional unix seconds to check the timestamp against; default the clock>}
stdout: a JSON array of booleans, one per object, in order. The reason for each false goes
        to stderr.
exit:   0 whenever the input was a JSON array; 2 when stdin could not be read as one.
"""

import base64
import json
import sys
import time

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

TOLERANCE_SECS = 5 * 60


def verify(public_key, headers, body, now):
    if not public_key.startswith("whpk_"):
        raise ValueError("the public key does not start with whpk_")
    key = Ed25519PublicKey.from_public_bytes(base64.b64decode(public_key[len("whpk_"):], validate=True))
    msg_id = headers["webhook-id"]
    timestamp = headers["webhook-timestamp"]
    if abs(now - int(timestamp)) > TOLERANCE_SECS:
        raise ValueError("webhook-timestamp is more than 5 minutes from now")
    signed = f"{msg_id}.{timestamp}.".encode() + body.encode()
    for versioned in headers["webhook-signature"].split(" "):
        version, _, signature = versioned.partition(",")
        if version != "v1a":
            continue
        try:
            key.verify(base64.b64decode(signature, validate=True), signed)
            return
        except (InvalidSignature, ValueError):
            continue
    raise ValueError("no v1a signature matches")


def verify_one(index, item):
    try:
        verify(item["public_key"], item["headers"], item["body"], item.get("now", time.time()))
        return True
    except Exception as exc:  # any failure to verify is a "false"
        print(f"[{index}] not verified: {type(exc).__name__}: {exc}", file=sys.stderr)
        return False


def main():
    try:
        items = json.load(sys.stdin)
    except json.JSONDecodeError as exc:
        print(f"stdin is not JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(items, list):
        print("stdin must be a JSON array", file=sys.stderr)
        return 2
    json.dump([verify_one(i, item) for i, item in enumerate(items)], sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
