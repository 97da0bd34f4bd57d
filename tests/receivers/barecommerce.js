// Seed 002 (BareCommerce) prints no receiver code and names no signature. This receiver
// reads and asserts every field of the seed's Event Format:
//   type (string, such as "order.created"), id (string), timestamp (ISO 8601 datetime),
//   storeId (string), data (object with the resource's "id"), and no other top-level field;
// verifies the Standard Webhooks headers that Tidings sends with this format (webhook-id,
// webhook-timestamp, webhook-signature "v1,<base64 HMAC-SHA256 of id.timestamp.body>" keyed
// with the base64 part of the whsec_ secret) and that webhook-id is the body's id;
// then runs the seed's "Event Processing Examples" and "Deduplication" as branches:
//   `duplicate` when the id was processed before (the seed's processWebhook), else each
//   example whose `if` matches: `send order confirmation email` and `update inventory`
//   (order.created), `sync products to search index` (product.created/updated),
//   `sync customer to CRM` (customer.created); else `default`.
// Secret: WEBHOOK_SECRET (whsec_…), STORE_ID (optional: asserted equal to storeId).
// Port: argv[2] or PORT (0 = any). POST /webhooks/barecommerce. Answers 400 naming the
// failed assertions, 401 on a bad signature.
const crypto = require("crypto");
const { createApp, listen } = require("./harness");
const { app, express, record } = createApp("barecommerce");

const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/;
const TOLERANCE_SECONDS = 5 * 60;

function verifyStandardWebhook(headers, rawBody, secret) {
  const id = headers["webhook-id"];
  const timestamp = headers["webhook-timestamp"];
  const signatures = headers["webhook-signature"];
  if (!id || !timestamp || !signatures || !secret) return false;
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > TOLERANCE_SECONDS) return false;
  const key = Buffer.from(secret.replace(/^whsec_/, ""), "base64");
  const expected = crypto
    .createHmac("sha256", key)
    .update(`${id}.${timestamp}.`)
    .update(rawBody)
    .digest();
  return signatures.split(" ").some((entry) => {
    const [version, value] = entry.split(",");
    if (version !== "v1" || !value) return false;
    const given = Buffer.from(value, "base64");
    return given.length === expected.length && crypto.timingSafeEqual(given, expected);
  });
}

function assertEventFormat(event, headers) {
  const errors = [];
  const isString = (v) => typeof v === "string" && v.length > 0;
  if (event === null || typeof event !== "object" || Array.isArray(event)) {
    return ["body is not a JSON object"];
  }
  if (!isString(event.type) || !/^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$/.test(event.type)) {
    errors.push(`type: ${JSON.stringify(event.type)}`);
  }
  if (!isString(event.id)) errors.push(`id: ${JSON.stringify(event.id)}`);
  if (!isString(event.timestamp) || !ISO_8601.test(event.timestamp) || isNaN(Date.parse(event.timestamp))) {
    errors.push(`timestamp: ${JSON.stringify(event.timestamp)}`);
  }
  if (!isString(event.storeId)) errors.push(`storeId: ${JSON.stringify(event.storeId)}`);
  if (process.env.STORE_ID && event.storeId !== process.env.STORE_ID) {
    errors.push(`storeId: ${event.storeId} is not ${process.env.STORE_ID}`);
  }
  if (event.data === null || typeof event.data !== "object" || Array.isArray(event.data)) {
    errors.push("data: not an object");
  } else if (!isString(event.data.id)) {
    errors.push("data.id: missing");
  }
  const extra = Object.keys(event).filter((k) => !["type", "id", "timestamp", "storeId", "data"].includes(k));
  if (extra.length) errors.push(`unexpected fields: ${extra.join(", ")}`);
  if (headers["webhook-id"] !== event.id) errors.push("webhook-id is not the body's id");
  return errors;
}

const processed = new Set();

app.post("/webhooks/barecommerce", express.raw({ type: "application/json" }), (req, res) => {
  if (!verifyStandardWebhook(req.headers, req.body, process.env.WEBHOOK_SECRET)) {
    return res.status(401).json({ error: "Invalid signature" });
  }
  let event;
  try {
    event = JSON.parse(req.body.toString("utf8"));
  } catch (e) {
    event = undefined;
  }
  const errors = assertEventFormat(event, req.headers);
  if (errors.length) {
    record({ branch: "assertion failed", errors });
    return res.status(400).json({ errors });
  }
  const fields = { type: event.type, id: event.id, timestamp: event.timestamp, storeId: event.storeId, data: event.data };
  if (processed.has(event.id)) {
    record({ branch: "duplicate", ...fields });
    return res.status(200).json({ received: true });
  }
  processed.add(event.id);
  const branches = [];
  if (event.type === "order.created") branches.push("send order confirmation email", "update inventory");
  if (event.type === "product.created" || event.type === "product.updated") branches.push("sync products to search index");
  if (event.type === "customer.created") branches.push("sync customer to CRM");
  if (!branches.length) branches.push("default");
  for (const branch of branches) record({ branch, ...fields });
  res.status(200).json({ received: true });
});

listen(app);
