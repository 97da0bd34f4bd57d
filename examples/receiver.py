"""A webhook receiver written with the official Standard Webhooks library.

    pip install standardwebhooks
    WEBHOOK_SECRET=whsec_... python examples/receiver.py 4000

It listens on 127.0.0.1, verifies every delivery's signature and prints the event.
"""

import json
import os
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError

webhook = Webhook(os.environ["WEBHOOK_SECRET"])
seen = set()  # Deliveries are at-least-once: dedup by webhook-id.


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("content-length", 0))).decode()
        try:
            event = webhook.verify(body, dict(self.headers))
        except WebhookVerificationError as e:
            print(f"rejected: {e}", flush=True)
            self.send_response(401)
            self.end_headers()
            return
        msg_id = self.headers["webhook-id"]
        duplicate = msg_id in seen
        seen.add(msg_id)
        print(f"verified {event['type']} {msg_id}{' (duplicate)' if duplicate else ''}: "
              f"{json.dumps(event['data'])}", flush=True)
        self.send_response(204)  # Answer fast; do slow work elsewhere.
        self.end_headers()

    def log_message(self, *args):
        pass


HTTPServer(("127.0.0.1", int(sys.argv[1]) if len(sys.argv) > 1 else 4000), Handler).serve_forever()
