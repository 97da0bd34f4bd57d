//! Webhook signatures: every signature header a delivery carries ([`delivery_headers`]),
//! and [`verify`] for receivers written in Rust. A leaf: it knows secrets and bytes, not
//! subscriptions.
//!
//! [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp`
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
//! base64-decoded part of a `whsec_…` secret.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use crate::ids;

type HmacSha256 = Hmac<Sha256>;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a `webhook-timestamp` may be from the receiver's clock (the spec's 5 minutes).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 5 * 60;

const PREFIX: &str = "whsec_";
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;
const GENERATED_KEY_BYTES: usize = 32;

/// A receiver's own secret, brought over as it is.
const PLAIN_CHARS: std::ops::RangeInclusive<usize> = 8..=256;

/// A secret that breaks the rule of its kind.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SecretError {
    #[error("must be 'whsec_' followed by the base64 of {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes")]
    Malformed,
    #[error("must be 8 to 256 printable ASCII characters")]
    MalformedPlain,
}

/// A signing secret: `whsec_` + base64 of 24 to 64 bytes (keyed with those bytes), or a
/// receiver's existing secret of 8 to 256 printable characters (keyed with its UTF-8 bytes,
/// as the seeds' receivers key their HMAC). Its `Debug` never shows the key.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Secret {
    text: String,
    key: Vec<u8>,
}

impl Secret {
    /// A fresh secret from the operating system's random source.
    pub fn generate() -> Self {
        let key = ids::random_bytes(GENERATED_KEY_BYTES);
        Self {
            text: format!("{PREFIX}{}", STANDARD.encode(&key)),
            key,
        }
    }

    pub fn parse(text: &str) -> Result<Self, SecretError> {
        let encoded = text.strip_prefix(PREFIX).ok_or(SecretError::Malformed)?;
        let key = STANDARD
            .decode(encoded)
            .map_err(|_| SecretError::Malformed)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&key.len()) {
            return Err(SecretError::Malformed);
        }
        Ok(Self {
            text: text.to_owned(),
            key,
        })
    }

    /// A receiver's existing secret, as it is (Saleor's own example is `secret-key`); a
    /// `whsec_` secret keeps its Standard Webhooks meaning.
    pub fn parse_plain(text: &str) -> Result<Self, SecretError> {
        if let Ok(secret) = Self::parse(text) {
            return Ok(secret);
        }
        let printable = text.bytes().all(|b| (0x20..0x7f).contains(&b));
        if !printable || !PLAIN_CHARS.contains(&text.len()) {
            return Err(SecretError::MalformedPlain);
        }
        Ok(Self {
            text: text.to_owned(),
            key: text.as_bytes().to_vec(),
        })
    }

    /// Whether this is a valid `whsec_` secret, which the Standard Webhooks libraries take
    /// as it is (a plain secret may merely start with `whsec_`).
    pub fn is_standard(&self) -> bool {
        Self::parse(&self.text).is_ok()
    }

    /// The secret as the subscriber stores it (`whsec_…`, or its own).
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// Standard Webhooks signature of one message: `v1,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        format!("v1,{}", STANDARD.encode(self.mac(msg_id, timestamp, body)))
    }

    fn mac(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().to_vec()
    }
}

impl TryFrom<String> for Secret {
    type Error = SecretError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse_plain(&value)
    }
}

impl From<Secret> for String {
    fn from(value: Secret) -> Self {
        value.text
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.is_standard() {
            "Secret(whsec_…)"
        } else {
            "Secret(…)"
        })
    }
}

/// What one delivery is signed with.
#[derive(Debug, Clone)]
pub struct SigningKeys<'a> {
    /// Whether the Standard Webhooks headers are sent.
    pub standard: bool,
    /// The live secrets, the current one first: each adds a `v1,` signature, so receivers on
    /// the old or the new secret verify during a rotation.
    pub secrets: Vec<&'a Secret>,
    /// The headers that carry the seeds' hex signature, made with the current secret (a
    /// single hex value has no room for a second secret).
    pub hex_headers: Vec<&'a str>,
}

/// Every signature header of one delivery: the Standard Webhooks headers (unless turned
/// off), and each hex signature header.
pub fn delivery_headers(
    keys: &SigningKeys<'_>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(String, String)> {
    let mut headers = Vec::new();
    if keys.standard {
        let signatures = keys
            .secrets
            .iter()
            .map(|secret| secret.sign(msg_id, timestamp, body))
            .collect::<Vec<_>>()
            .join(" ");
        headers.extend([
            (HEADER_ID.to_owned(), msg_id.to_owned()),
            (HEADER_TIMESTAMP.to_owned(), timestamp.to_string()),
            (HEADER_SIGNATURE.to_owned(), signatures),
        ]);
    }
    if let Some(current) = keys.secrets.first() {
        let hex = sign_hex(current.expose(), body);
        for header in &keys.hex_headers {
            headers.push(((*header).to_owned(), hex.clone()));
        }
    }
    headers
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("the secret is empty or not valid base64")]
    InvalidSecret,
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the webhook-timestamp header is not a unix time in seconds")]
    InvalidTimestamp,
    #[error("the webhook-timestamp is more than 5 minutes from now")]
    TimestampOutOfTolerance,
    #[error("no v1 signature matches")]
    NoMatchingSignature,
}

/// Verifies a Standard Webhooks delivery as a receiver does.
///
/// `secret` may be given with or without its `whsec_` prefix; `now` is the receiver's unix
/// time in seconds. Unknown signature versions are ignored; any one matching `v1` passes.
pub fn verify(
    secret: &str,
    msg_id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let encoded = secret.strip_prefix(PREFIX).unwrap_or(secret);
    let key = STANDARD
        .decode(encoded)
        .ok()
        .filter(|k| !k.is_empty())
        .ok_or(VerifyError::InvalidSecret)?;
    let msg_id = msg_id.ok_or(VerifyError::MissingHeader(HEADER_ID))?;
    let timestamp = timestamp.ok_or(VerifyError::MissingHeader(HEADER_TIMESTAMP))?;
    let signatures = signatures.ok_or(VerifyError::MissingHeader(HEADER_SIGNATURE))?;
    let ts: i64 = timestamp
        .trim()
        .parse()
        .map_err(|_| VerifyError::InvalidTimestamp)?;
    if (now - ts).abs() > TIMESTAMP_TOLERANCE_SECS {
        return Err(VerifyError::TimestampOutOfTolerance);
    }
    let secret = Secret {
        text: String::new(),
        key,
    };
    let expected = secret.mac(msg_id, ts, body);
    let matched = signatures
        .split(' ')
        .filter_map(|sig| sig.strip_prefix("v1,"))
        .filter_map(|sig| STANDARD.decode(sig).ok())
        .any(|candidate| {
            subtle::ConstantTimeEq::ct_eq(candidate.as_slice(), expected.as_slice()).into()
        });
    if matched {
        Ok(())
    } else {
        Err(VerifyError::NoMatchingSignature)
    }
}

/// [`verify`] over an HTTP header map, with the current time.
pub fn verify_headers(
    secret: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<(), VerifyError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify(
        secret,
        header(HEADER_ID),
        header(HEADER_TIMESTAMP),
        header(HEADER_SIGNATURE),
        body,
        chrono::Utc::now().timestamp(),
    )
}

/// The seeds' compatibility scheme: hex HMAC-SHA256 of the raw body, keyed with the secret
/// string's own UTF-8 bytes (what Commerce Engine's and Medusa's receiver code computes).
pub fn sign_hex(secret: &str, body: &[u8]) -> String {
    let mut mac =
        HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any size");
    mac.update(body);
    mac.finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Standard Webhooks reference libraries' own test vectors.
    const VECTORS: [(&str, &str, i64, &str, &str); 2] = [
        (
            "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "msg_p5jXN8AQM9LWM0D4loKWxJek",
            1614265330,
            r#"{"test": 2432232314}"#,
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
        ),
        (
            "whsec_C2FVsBQIhrscChlQIMV+b5sSYspob7oD",
            "msg_27UH4WbU6Z5A5EzD8u03UvzRbpk",
            1649367553,
            r#"{"email":"test@example.com","username":"test_user"}"#,
            "v1,tZ1I4/hDygAJgO5TYxiSd6Sd0kDW6hPenDe+bTa3Kkw=",
        ),
    ];

    #[test]
    fn signs_the_specification_vectors() {
        for (secret, id, ts, body, expected) in VECTORS {
            let secret = Secret::parse(secret).unwrap();
            assert_eq!(secret.sign(id, ts, body.as_bytes()), expected);
        }
    }

    #[test]
    fn verifies_the_specification_vectors() {
        for (secret, id, ts, body, sig) in VECTORS {
            let check = |now| {
                verify(
                    secret,
                    Some(id),
                    Some(&ts.to_string()),
                    Some(sig),
                    body.as_bytes(),
                    now,
                )
            };
            assert_eq!(check(ts), Ok(()));
            assert_eq!(check(ts + 299), Ok(()), "within tolerance");
            assert_eq!(check(ts + 301), Err(VerifyError::TimestampOutOfTolerance));
            assert_eq!(check(ts - 301), Err(VerifyError::TimestampOutOfTolerance));
            // The prefix is optional for receivers.
            let bare = secret.strip_prefix("whsec_").unwrap();
            assert_eq!(
                verify(
                    bare,
                    Some(id),
                    Some(&ts.to_string()),
                    Some(sig),
                    body.as_bytes(),
                    ts
                ),
                Ok(())
            );
        }
    }

    #[test]
    fn rejects_tampering_and_accepts_any_matching_signature_of_a_list() {
        let (secret, id, ts, body, sig) = VECTORS[0];
        let ts_s = ts.to_string();
        let v = |id: &str, body: &str, sigs: &str| {
            verify(
                secret,
                Some(id),
                Some(&ts_s),
                Some(sigs),
                body.as_bytes(),
                ts,
            )
        };
        assert_eq!(
            v(id, r#"{"test": 2432232315}"#, sig),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            v("msg_other", body, sig),
            Err(VerifyError::NoMatchingSignature)
        );
        let list = format!("v1,Zm9vYmFy v2,abc {sig}");
        assert_eq!(v(id, body, &list), Ok(()));
        let unknown_version_only = sig.replacen("v1,", "v2,", 1);
        assert_eq!(
            v(id, body, &unknown_version_only),
            Err(VerifyError::NoMatchingSignature)
        );
        assert_eq!(
            verify("", Some(id), Some(&ts_s), Some(sig), body.as_bytes(), ts),
            Err(VerifyError::InvalidSecret)
        );
        assert_eq!(
            verify(secret, None, Some(&ts_s), Some(sig), body.as_bytes(), ts),
            Err(VerifyError::MissingHeader(HEADER_ID))
        );
        assert_eq!(
            verify(
                secret,
                Some(id),
                Some("soon"),
                Some(sig),
                body.as_bytes(),
                ts
            ),
            Err(VerifyError::InvalidTimestamp)
        );
    }

    #[test]
    fn generated_secrets_are_long_random_and_parse_back() {
        let a = Secret::generate();
        let b = Secret::generate();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsec_"));
        assert_eq!(Secret::parse(a.expose()).unwrap(), a);
        assert_eq!(
            format!("{a:?}"),
            "Secret(whsec_…)",
            "Debug never leaks the key"
        );
    }

    #[test]
    fn secrets_outside_the_rule_are_refused() {
        let short = format!("whsec_{}", STANDARD.encode([7u8; 23]));
        let long = format!("whsec_{}", STANDARD.encode([7u8; 65]));
        for bad in [
            "",
            "whsec_",
            "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw",
            "whsec_***",
            &short,
            &long,
        ] {
            assert_eq!(Secret::parse(bad), Err(SecretError::Malformed), "{bad}");
        }
    }

    #[test]
    fn a_delivery_carries_one_v1_signature_per_live_secret_and_the_hex_one_if_asked() {
        let (secret, id, ts, body, sig) = VECTORS[0];
        let current = Secret::parse(secret).unwrap();
        let old = Secret::parse(VECTORS[1].0).unwrap();
        let keys = SigningKeys {
            standard: true,
            secrets: vec![&current, &old],
            hex_headers: vec!["x-webhook-signature"],
        };
        let headers = delivery_headers(&keys, id, ts, body.as_bytes());
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        assert_eq!(get(HEADER_ID), Some(id));
        assert_eq!(get(HEADER_TIMESTAMP), Some("1614265330"));
        let signatures = get(HEADER_SIGNATURE).unwrap();
        assert!(
            signatures.starts_with(&format!("{sig} v1,")),
            "{signatures}"
        );
        assert_eq!(
            get("x-webhook-signature"),
            Some(sign_hex(secret, body.as_bytes()).as_str()),
            "the hex signature uses the current secret"
        );
        let plain = SigningKeys {
            standard: true,
            secrets: vec![&current],
            hex_headers: vec![],
        };
        assert_eq!(delivery_headers(&plain, id, ts, body.as_bytes()).len(), 3);
        let hex_only = SigningKeys {
            standard: false,
            secrets: vec![&current],
            hex_headers: vec!["x-medusa-signature", "saleor-signature"],
        };
        let names: Vec<_> = delivery_headers(&hex_only, id, ts, body.as_bytes())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(names, ["x-medusa-signature", "saleor-signature"]);
    }

    #[test]
    fn a_receivers_own_secret_is_taken_as_it_is_and_keys_with_its_bytes() {
        let plain = Secret::parse_plain("secret-key").unwrap();
        assert_eq!(plain.expose(), "secret-key");
        assert!(!plain.is_standard());
        assert_eq!(format!("{plain:?}"), "Secret(…)");
        // Standard Webhooks keyed with the bytes: what a library given whsec_ + base64 computes.
        let as_whsec = format!("whsec_{}", STANDARD.encode("secret-key"));
        let sig = plain.sign("msg_1", 1614265330, b"{}");
        assert_eq!(
            verify(
                &as_whsec,
                Some("msg_1"),
                Some("1614265330"),
                Some(&sig),
                b"{}",
                1614265330
            ),
            Ok(())
        );
        let whsec = Secret::parse_plain(VECTORS[0].0).unwrap();
        assert!(whsec.is_standard(), "a whsec_ secret keeps its meaning");
        let lookalike = Secret::parse_plain("whsec_not-base64!").unwrap();
        assert!(
            !lookalike.is_standard(),
            "only a valid whsec_ secret is one"
        );
        for bad in ["short", "tab\there!", &"x".repeat(257), "naïve-secret"] {
            assert_eq!(
                Secret::parse_plain(bad),
                Err(SecretError::MalformedPlain),
                "{bad}"
            );
        }
        let stored: Secret = serde_json::from_str("\"secret-key\"").unwrap();
        assert_eq!(stored, plain, "stored plain secrets read back");
    }

    #[test]
    fn hex_scheme_matches_node_crypto() {
        // Computed independently: hmac.new(b"secret", b'{"a":1}', hashlib.sha256).hexdigest()
        assert_eq!(
            sign_hex("secret", br#"{"a":1}"#),
            "aa9e2e3575f5d7098b6caccd790888c36d5fdb63342a73bada2d6a51747a8494"
        );
    }
}
