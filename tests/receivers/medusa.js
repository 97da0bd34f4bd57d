// Seed 000 (Medusa), section 5, "Verification on the receiving end (Node.js example)",
// run as printed. Changed: the wiring around it (express, app, listen, from ./harness.js)
// and the `// process event...` comment, which now records the event (marked [changed]).
// Secret: WEBHOOK_SECRET, read by the seed's own code. Port: argv[2] or PORT (0 = any).
// POST /webhooks/medusa with X-Medusa-Signature: hex HMAC-SHA256 of the raw body.
const { createApp, listen } = require("./harness");
const { app, express, record } = createApp("medusa");

// ---- seed 000, as printed ----
const crypto = require("crypto");

function verifyWebhookSignature(rawBody, receivedSignature, secret) {
  const expected = crypto
    .createHmac("sha256", secret)
    .update(rawBody, "utf8")
    .digest("hex");

  // Use timingSafeEqual to prevent timing attacks.
  const expectedBuf = Buffer.from(expected, "hex");
  const receivedBuf = Buffer.from(receivedSignature, "hex");

  if (expectedBuf.length !== receivedBuf.length) return false;
  return crypto.timingSafeEqual(expectedBuf, receivedBuf);
}

// Express middleware example:
app.post("/webhooks/medusa", express.raw({ type: "application/json" }), (req, res) => {
  const sig = req.headers["x-medusa-signature"];
  if (!verifyWebhookSignature(req.body, sig, process.env.WEBHOOK_SECRET)) {
    return res.status(401).json({ error: "Invalid signature" });
  }
  const event = JSON.parse(req.body.toString());
  // process event...
  record({ branch: "process event", event: event.event, data: event.data, timestamp: event.timestamp, keys: Object.keys(event) }); // [changed]
  res.json({ received: true });
});
// ---- end of seed code ----

listen(app);
