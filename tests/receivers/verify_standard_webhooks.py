#!/usr/bin/env python3
"""Verify deliveries with the official Standard Webhooks library (PyPI `standardwebhooks`).

Used by the Rust tests (run with $TIDINGS_TEST_PYTHON, the .venv that scripts/test sets up).

stdin:  a JSON array of objects
          {"secret": "whsec_...",
           "headers": {"webhook-id": "...", "webhook-timestamp": "...", "webhook-signature": "..."},
           "body": "<raw body string, exactly as sent>"}
stdout: a JSON array of booleans, one per object, in order: true when
        `Webhook(secret).verify(body, headers)` accepted it, false when it raised
        (WebhookVerificationError, an empty or malformed secret, a malformed signature
        header, a body that is not JSON, ...). The reason for each false goes to stderr.
exit:   0 whenever the input was a JSON array; 2 when stdin could not be read as one.
"""

import json
import sys

from standardwebhooks.webhooks import Webhook


def verify_one(index, item):
    try:
        if not isinstance(item, dict):
            raise TypeError("item is not an object")
        secret = item["secret"]
        headers = item["headers"]
        body = item["body"]
        if not isinstance(headers, dict) or not isinstance(body, str):
            raise TypeError("headers must be an object and body a string")
        # Header values must be strings for the library.
        headers = {str(k): str(v) for k, v in headers.items()}
        Webhook(secret).verify(body, headers)
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
    results = [verify_one(i, item) for i, item in enumerate(items)]
    json.dump(results, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
