// Seed 004 (Saleor): the HMAC check. The seed prints no HMAC code, only the rule: "if
// secretKey was set for a webhook - the HMAC SHA-256 header based on it and the payload",
// in `Saleor-Signature`. Saleor's own code (saleor/webhook/transport/__init__.py,
// signature_for_payload) makes it `hmac.new(secret_key, payload_bytes, sha256).hexdigest()`:
// lowercase hex of the raw body bytes, keyed with the secret's UTF-8 bytes. This receiver
// checks exactly that, and reads the headers the seed lists: Saleor-Event (Saleor sends the
// lower-case value of its enum, `order_created`), Saleor-Domain, Saleor-Signature, and the
// deprecated X-Saleor-* copies if present.
// Branch: `on <saleor-event>` for an event of seed 004's list (as Saleor sends it), else
// `default`. The body must be a JSON object (the subscription payload).
// Secret: SALEOR_SECRET_KEY. Port: argv[2] or PORT (0 = any).
// POST /api/webhooks/saleor.
const crypto = require("crypto");
const { createApp, listen } = require("./harness");
const { app, express, record } = createApp("saleor");

// Seed 004's "Available webhook events", lower-cased as Saleor sends them; NOTIFY and the
// seed's typo WAREHOUSE_CRATED are what Saleor's code defines: notify_user, warehouse_created.
const SALEOR_EVENTS = `address_created address_updated address_deleted app_installed
app_updated app_deleted app_status_changed attribute_created attribute_updated
attribute_deleted category_created category_updated category_deleted channel_created
channel_updated channel_deleted channel_status_changed gift_card_created gift_card_updated
gift_card_deleted gift_card_status_changed checkout_created checkout_updated customer_created
customer_updated customer_deleted fulfillment_created invoice_deleted invoice_requested
invoice_sent menu_created menu_updated menu_deleted menu_item_created menu_item_updated
menu_item_deleted order_cancelled order_confirmed order_created order_fulfilled
order_fully_paid order_updated sale_created sale_updated sale_deleted sale_toggle page_created
page_deleted page_updated page_type_created page_type_updated page_type_deleted
collection_created collection_deleted collection_updated product_created product_deleted
product_updated product_variant_created product_variant_deleted product_variant_updated
notify_user transaction_action_request translation_created translation_updated
product_variant_out_of_stock product_variant_back_in_stock shipping_price_created
shipping_price_updated shipping_price_deleted shipping_zone_created shipping_zone_updated
shipping_zone_deleted staff_created staff_updated staff_deleted voucher_created
voucher_updated voucher_deleted warehouse_created warehouse_updated warehouse_deleted`.split(/\s+/);

function verifyHmac(rawBody, signature, secretKey) {
  if (!signature) return false;
  const expected = crypto.createHmac("sha256", secretKey).update(rawBody).digest("hex");
  const a = Buffer.from(signature, "utf8");
  const b = Buffer.from(expected, "utf8");
  return a.length === b.length && crypto.timingSafeEqual(a, b);
}

app.post("/api/webhooks/saleor", express.raw({ type: "application/json" }), (req, res) => {
  const signature = req.headers["saleor-signature"];
  if (!verifyHmac(req.body, signature, process.env.SALEOR_SECRET_KEY)) {
    return res.status(401).json({ error: "Invalid signature" });
  }
  const event = req.headers["saleor-event"];
  const domain = req.headers["saleor-domain"];
  const errors = [];
  if (!event) errors.push("Saleor-Event missing");
  if (!domain) errors.push("Saleor-Domain missing");
  let payload;
  try {
    payload = JSON.parse(req.body.toString("utf8"));
  } catch (e) {
    errors.push("body is not JSON");
  }
  if (payload === null || typeof payload !== "object" || Array.isArray(payload)) {
    errors.push("body is not a JSON object");
  }
  if (errors.length) {
    record({ branch: "assertion failed", errors, event });
    return res.status(400).json({ errors });
  }
  const branch = SALEOR_EVENTS.includes(event) ? `on ${event}` : "default";
  record({
    branch,
    event,
    domain,
    apiUrl: req.headers["saleor-api-url"] ?? null,
    legacy: {
      event: req.headers["x-saleor-event"] ?? null,
      domain: req.headers["x-saleor-domain"] ?? null,
      signature: req.headers["x-saleor-signature"] ?? null,
    },
    data: payload,
  });
  res.json({ success: true });
});

listen(app);
