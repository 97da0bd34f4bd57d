// Seed 004 (Saleor): "To validate signatures in Saleor Apps, use ... @saleor/app-sdk". The
// seed's middleware example (retes, Next.js) needs an installed app and its APL; this
// receiver calls what that middleware calls, app-sdk's own
//   verifySignatureWithJwks(jwks: string, signature: string, rawBody: string): Promise<void>
// and getJwksUrlFromSaleorApiUrl(saleorApiUrl) from "@saleor/app-sdk/auth", the way
// app-sdk's webhook handler does: the JWKS text it holds (an app's APL keeps it in authData)
// is tried first; when the check fails, it fetches the JWKS again from the origin of the
// delivery's Saleor-Api-Url and tries once more.
// SALEOR_JWKS: a JWKS (JSON text) to hold from the start and never refresh (a receiver that
// still holds an old key set); without it the first delivery fetches one.
// Records: {branch: "verified" | "rejected", event: Saleor-Event, kid: the protected
// header's kid, data: the parsed body (verified), reason: the error (rejected)}; the harness
// adds its own `rejected 401` record after each 401.
// Port: argv[2] or PORT (0 = any). POST /api/webhooks/saleor.
const { verifySignatureWithJwks, getJwksUrlFromSaleorApiUrl } = require("@saleor/app-sdk/auth");
const { createApp, listen } = require("./harness");
const { app, express, record } = createApp("saleor-app-sdk");

const pinned = process.env.SALEOR_JWKS ?? null;
let jwks = pinned;

async function fetchJwks(saleorApiUrl) {
  const response = await fetch(getJwksUrlFromSaleorApiUrl(saleorApiUrl));
  if (!response.ok) throw new Error(`the JWKS answered ${response.status}`);
  return response.text();
}

function kidOf(signature) {
  try {
    return JSON.parse(Buffer.from(String(signature).split(".")[0], "base64url").toString("utf8")).kid ?? null;
  } catch (e) {
    return null;
  }
}

app.post("/api/webhooks/saleor", express.raw({ type: "application/json", limit: "1mb" }), async (req, res) => {
  const signature = req.headers["saleor-signature"];
  const saleorApiUrl = req.headers["saleor-api-url"];
  const event = req.headers["saleor-event"];
  const rawBody = req.body.toString("utf-8");
  try {
    if (!signature) throw new Error("Saleor-Signature missing");
    if (jwks === null) jwks = await fetchJwks(saleorApiUrl);
    try {
      await verifySignatureWithJwks(jwks, signature, rawBody);
    } catch (first) {
      if (pinned !== null) throw first;
      jwks = await fetchJwks(saleorApiUrl);
      await verifySignatureWithJwks(jwks, signature, rawBody);
    }
  } catch (e) {
    record({ branch: "rejected", event, kid: kidOf(signature), reason: e.message });
    return res.status(401).json({ error: e.message });
  }
  record({ branch: "verified", event, kid: kidOf(signature), data: JSON.parse(rawBody) });
  res.json({ success: true });
});

listen(app);
