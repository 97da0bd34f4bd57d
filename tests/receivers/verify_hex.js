// The seeds' receiver code for hex HMAC signatures (Commerce Engine's verifyWebhookSignature,
// as its documentation gives it), run over deliveries the Rust tests captured.
// stdin: [{"secret": "...", "signature": "<header value>", "body": "<raw body>"}]
// stdout: [true | false, ...]
const crypto = require("crypto");

function verifyWebhookSignature(body, signature, secret) {
  if (!signature) return false;
  const expectedSignature = crypto
    .createHmac("sha256", secret)
    .update(body)
    .digest("hex");
  try {
    return crypto.timingSafeEqual(Buffer.from(signature), Buffer.from(expectedSignature));
  } catch (e) {
    return false; // different lengths
  }
}

let input = "";
process.stdin.on("data", (chunk) => (input += chunk));
process.stdin.on("end", () => {
  const cases = JSON.parse(input);
  const verdicts = cases.map((c) => verifyWebhookSignature(c.body, c.signature, c.secret));
  process.stdout.write(JSON.stringify(verdicts));
});
