// Seed 003 (commercio) prints no receiver code: `webhookService.emit("ORDER_CREATED",
// payload)` makes "a POST request with the payload" to every webhook subscribed to that
// event, and each webhook has a signing `secret`. The seed names neither the event header
// nor the signature header, so both names are settings here (the defaults are a proposal):
//   COMMERCIO_EVENT_HEADER (default x-commercio-event): the WebhookEventType, UPPER_SNAKE;
//   COMMERCIO_SIGNATURE_HEADER (default x-commercio-signature): hex HMAC-SHA256 of the raw
//   body keyed with the secret string.
// Asserts: the event header is an UPPER_SNAKE name; the body is a JSON object (the payload
// itself, no envelope); for ORDER_CREATED, the fields of the seed's emit example: orderId,
// customerId, totalAmount.
// Branch: `on <EVENT>` for one of the seed's eight WebhookEventType values, else `default`.
// Secret: WEBHOOK_SECRET. Port: argv[2] or PORT (0 = any). POST /hooks/orders (the seed's
// example URL path). Answers 400 naming failed assertions, 401 on a bad signature.
const crypto = require("crypto");
const { createApp, listen } = require("./harness");
const { app, express, record } = createApp("commercio");

const EVENT_HEADER = (process.env.COMMERCIO_EVENT_HEADER || "x-commercio-event").toLowerCase();
const SIGNATURE_HEADER = (process.env.COMMERCIO_SIGNATURE_HEADER || "x-commercio-signature").toLowerCase();

// Seed 003's enum WebhookEventType.
const WEBHOOK_EVENT_TYPES = [
  "ORDER_CREATED",
  "ORDER_STATUS_CHANGED",
  "PRODUCT_CREATED",
  "PRODUCT_UPDATED",
  "INVENTORY_LOW",
  "PAYMENT_RECEIVED",
  "SHIPMENT_DELIVERED",
  "CUSTOMER_CREATED",
];

function verifyHex(rawBody, signature, secret) {
  if (!signature || !secret) return false;
  const expected = crypto.createHmac("sha256", secret).update(rawBody).digest("hex");
  const a = Buffer.from(signature, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

app.post("/hooks/orders", express.raw({ type: "application/json" }), (req, res) => {
  if (!verifyHex(req.body, req.headers[SIGNATURE_HEADER], process.env.WEBHOOK_SECRET)) {
    return res.status(401).json({ error: "Invalid signature" });
  }
  const event = req.headers[EVENT_HEADER];
  const errors = [];
  if (!event || !/^[A-Z][A-Z0-9]*(_[A-Z0-9]+)+$/.test(event)) {
    errors.push(`${EVENT_HEADER}: ${JSON.stringify(event)}`);
  }
  let payload;
  try {
    payload = JSON.parse(req.body.toString("utf8"));
  } catch (e) {
    payload = undefined;
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    errors.push("body is not a JSON object");
  } else if (event === "ORDER_CREATED") {
    for (const field of ["orderId", "customerId", "totalAmount"]) {
      if (!(field in payload)) errors.push(`payload.${field}: missing`);
    }
  }
  if (errors.length) {
    record({ branch: "assertion failed", errors, event });
    return res.status(400).json({ errors });
  }
  const branch = WEBHOOK_EVENT_TYPES.includes(event) ? `on ${event}` : "default";
  record({ branch, event, payload });
  res.status(200).json({ received: true });
});

listen(app);
