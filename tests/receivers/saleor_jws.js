// Seed 004 (Saleor), "Payload signature": the manual check of a JWS-signed webhook (one
// whose webhook has no secretKey) with the jose package, run as printed. The seed's text
// lost some of its code lines with the page's markup (the jose import, `signature,` in the
// flattenedVerify call, the `await`s and closing braces); they are restored as Saleor's docs
// have them. Changed (each marked [changed]):
// - the wiring around it (Express, from ./harness.js) in place of the Next.js API route, and
//   express.raw in place of raw-body (which Next.js needs because it parses bodies itself);
// - "<your-backend-domain>" (blank in the seed's text) is SALEOR_BACKEND, an origin such as
//   http://127.0.0.1:8080: the JWKS is fetched from SALEOR_BACKEND/.well-known/jwks.json;
// - `// return error` answers 401 and `// handle your request` answers 200; both record.
// Records: {branch: "verified" | "rejected", event: Saleor-Event, kid: the protected
// header's kid, header: the protected header as jose read it and data: the parsed body
// (verified), reason: jose's error code (rejected)}; the harness adds its own `rejected 401`
// record after each 401.
// Port: argv[2] or PORT (0 = any). POST /api/webhooks/saleor.
const { createApp, listen } = require("./harness");
const { app, express, record } = createApp("saleor-jws");

// [changed] The protected header's kid, for the records only.
function kidOf(jws) {
  try {
    return JSON.parse(Buffer.from(String(jws).split(".")[0], "base64url").toString("utf8")).kid ?? null;
  } catch (e) {
    return null;
  }
}

// ---- seed 004, as printed (restored lines as in Saleor's docs) ----
const jose = require("jose"); // [changed] import * as jose from "jose";
// import getRawBody from "raw-body"; // [changed] express.raw below reads the raw body

const JWKS = jose.createRemoteJWKSet(
  new URL(process.env.SALEOR_BACKEND + "/.well-known/jwks.json") // [changed] "<your-backend-domain>"
);

// In Next.js you need to disable `bodyParser` in order to get raw body string
// [changed] Next.js only; express.raw stands for it here.
// export const config = {
//   api: {
//     bodyParser: false,
//   },
// };

app.post("/api/webhooks/saleor", express.raw({ type: "application/json", limit: "1mb" }), async (req, res) => { // [changed] export default async function(req, res) {
  const jws = req.headers["saleor-signature"];
  const buffer = req.body; // [changed] await getRawBody(req, { length: req.headers["content-length"], limit: "1mb" });
  const [header, _, signature] = jws.split(".");
  let verified; // [changed] keeps jose's result for the record
  try {
    verified = await jose.flattenedVerify({ // [changed] `verified =`
      protected: header,
      payload: buffer.toString("utf-8"),
      signature,
    }, JWKS);
  } catch (e) {
    // return error
    record({ branch: "rejected", event: req.headers["saleor-event"], kid: kidOf(jws), reason: e.code ?? String(e) }); // [changed]
    return res.status(401).json({ error: e.code ?? "invalid signature" }); // [changed]
  }

  // handle your request
  record({ branch: "verified", event: req.headers["saleor-event"], kid: verified.protectedHeader.kid, header: verified.protectedHeader, data: JSON.parse(buffer.toString("utf-8")) }); // [changed]
  res.json({ success: true }); // [changed]
});
// ---- end of seed code ----

listen(app);
