// Seed 001 (Commerce Engine): its "Webhook Endpoint (Express)" route and "Signature
// Verification" function, run as printed, with the `switch (event.event_type)` of its
// "Webhook Endpoint (Next.js App Router)" route as the body of `queueWebhookProcessing`,
// which the Express route calls but the seed does not define.
// Changed (each marked [changed]):
// - TypeScript to JavaScript: type annotations and the `!` assertion removed, `import` as
//   `require`; nothing else in those lines;
// - `queueWebhookProcessing(event)` holds the Next.js route's switch verbatim; the handlers
//   it calls (`handleOrderCreated`…), which the seed does not define, record their own name
//   as the branch; the `default:` branch records `default` next to its console.log;
// - the wiring around it (app, listen, from ./harness.js).
// Secret: CE_WEBHOOK_SECRET, read by the seed's own code. Port: argv[2] or PORT (0 = any).
// POST /webhooks/ce with x-webhook-signature: hex HMAC-SHA256 of the raw body.
const { createApp, listen } = require("./harness");
const { app, record } = createApp("commerce-engine");

// ---- seed 001, "Webhook Endpoint (Express)", as printed ----
const express = require("express"); // [changed] import express from "express";
const crypto = require("crypto"); // [changed] import crypto from "crypto";

app.post("/webhooks/ce", express.raw({ type: "application/json" }), (req, res) => {
  const signature = req.headers["x-webhook-signature"];

  if (!verifyWebhookSignature(req.body, signature)) {
    return res.status(401).json({ error: "Invalid signature" });
  }

  const event = JSON.parse(req.body.toString());

  // Queue async work — return 200 immediately
  queueWebhookProcessing(event);

  res.status(200).json({ received: true });
});

// ---- seed 001, "Signature Verification", as printed ----
function verifyWebhookSignature(
  body, // [changed] body: string,
  signature // [changed] signature: string | null
) { // [changed] ): boolean {
  if (!signature) return false;

  const secret = process.env.CE_WEBHOOK_SECRET; // [changed] no `!`
  const expectedSignature = crypto
    .createHmac("sha256", secret)
    .update(body)
    .digest("hex");

  return crypto.timingSafeEqual(
    Buffer.from(signature),
    Buffer.from(expectedSignature)
  );
}
// ---- end of seed code ----

// [changed] The event being routed, so a handler's record names it (handlers receive only
// `event.data`; each is called synchronously by its case, before any other event can start).
let current = null;

async function queueWebhookProcessing(event) { // [changed] not defined by the seed
  current = event;
  // ---- seed 001, the Next.js route's "2. Route by event type", as printed ----
  switch (event.event_type) {
    case "order.created":
      await handleOrderCreated(event.data);
      break;
    case "order.confirmed":
      await handleOrderConfirmed(event.data);
      break;
    case "order.completed":
      await handleOrderCompleted(event.data);
      break;
    case "payment.success":
      await handlePaymentSuccess(event.data);
      break;
    case "payment.failed":
      await handlePaymentFailed(event.data);
      break;
    case "payment.refund.success":
      await handleRefundSuccess(event.data);
      break;
    case "shipment.delivered":
      await handleShipmentDelivered(event.data);
      break;
    // ... handle other events
    default:
      console.log(`Unhandled event: ${event.event_type}`);
      record({ branch: "default", event_type: event.event_type, id: event.id, data: event.data }); // [changed]
  }
  // ---- end of seed code ----
}

// [changed] The handlers the seed's switch calls: each records its name as the branch.
function handler(name) {
  return async (data) =>
    record({ branch: name, event_type: current.event_type, id: current.id, created_at: current.created_at, keys: Object.keys(current), data });
}
const handleOrderCreated = handler("handleOrderCreated");
const handleOrderConfirmed = handler("handleOrderConfirmed");
const handleOrderCompleted = handler("handleOrderCompleted");
const handlePaymentSuccess = handler("handlePaymentSuccess");
const handlePaymentFailed = handler("handlePaymentFailed");
const handleRefundSuccess = handler("handleRefundSuccess");
const handleShipmentDelivered = handler("handleShipmentDelivered");

listen(app);
