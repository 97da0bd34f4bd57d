//! Webhook signatures: every signature header a delivery carries ([`delivery_headers`]),
//! and [`verify`] for receivers written in Rust. A leaf: it knows secrets, keys and bytes,
//! not subscriptions.
//!
//! [Standard Webhooks](https://www.standardwebhooks.com/): `webhook-id`, `webhook-timestamp`
//! and `webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">`, keyed with the
//! base64-decoded part of a `whsec_…` secret; and its asymmetric `v1a,<base64 Ed25519
//! signature of the same string>`, made with a `whsk_…` [`SigningKey`] and verified with its
//! `whpk_…` public key.

mod jws;

pub use jws::{Jwk, RsaKeyError, RsaSigningKey};

use std::fmt;

use aws_lc_rs::signature::{ED25519, Ed25519KeyPair, KeyPair, UnparsedPublicKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;
use thiserror::Error;

use crate::ids;

type HmacSha256 = Hmac<Sha256>;

/// `v1,` and the base64 of an HMAC-SHA256, a space after it when there are several.
const SIGNATURE_LEN: usize = 3 + 44 + 1;
/// `v1a,` and the base64 of an Ed25519 signature, and a space.
const V1A_SIGNATURE_LEN: usize = 4 + 88 + 1;

pub const HEADER_ID: &str = "webhook-id";
pub const HEADER_TIMESTAMP: &str = "webhook-timestamp";
pub const HEADER_SIGNATURE: &str = "webhook-signature";

/// How far a `webhook-timestamp` may be from the receiver's clock (the spec's 5 minutes).
pub const TIMESTAMP_TOLERANCE_SECS: i64 = 5 * 60;

const PREFIX: &str = "whsec_";
const MIN_KEY_BYTES: usize = 24;
const MAX_KEY_BYTES: usize = 64;
const GENERATED_KEY_BYTES: usize = 32;

const SIGNING_KEY_PREFIX: &str = "whsk_";
const PUBLIC_KEY_PREFIX: &str = "whpk_";
const ED25519_KEY_BYTES: usize = 32;

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
        let mut signature = String::with_capacity(SIGNATURE_LEN);
        self.sign_into(
            &mut signature,
            msg_id,
            decimal(timestamp, &mut [0; 20]),
            body,
        );
        signature
    }

    /// [`Secret::sign`] with the timestamp as its decimal digits, appended to `out`: one
    /// string for all of a delivery's signatures, over the digits its header carries.
    fn sign_into(&self, out: &mut String, msg_id: &str, timestamp: &[u8], body: &[u8]) {
        out.push_str("v1,");
        STANDARD.encode_string(self.mac(msg_id, timestamp, body), out);
    }

    /// The HMAC of `{msg_id}.{timestamp}.{body}`, `timestamp` in decimal digits.
    fn mac(&self, msg_id: &str, timestamp: &[u8], body: &[u8]) -> [u8; 32] {
        let mut mac = HmacSha256::new_from_slice(&self.key).expect("HMAC takes keys of any size");
        mac.update(msg_id.as_bytes());
        mac.update(b".");
        mac.update(timestamp);
        mac.update(b".");
        mac.update(body);
        mac.finalize().into_bytes().into()
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

/// A signing key that breaks the `whsk_` rule, or one the crypto library could not make.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SigningKeyError {
    #[error(
        "must be 'whsk_' followed by the base64 of a 32-byte Ed25519 seed and its 32-byte public key"
    )]
    Malformed,
    #[error("its last 32 bytes are not the public key of its first 32 (the seed)")]
    Inconsistent,
    #[error("the crypto library could not make an Ed25519 key")]
    Unavailable,
}

/// An Ed25519 signing key for Standard Webhooks `v1a`: `whsk_` + base64 of the 32-byte seed
/// followed by the 32-byte public key (Svix's format). Its public key is `whpk_` + base64 of
/// the 32 bytes. Its `Debug` never shows the seed.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct SigningKey {
    text: String,
    pair: Ed25519KeyPair,
}

impl SigningKey {
    /// A fresh key pair from the crypto library's random source.
    pub fn generate() -> Result<Self, SigningKeyError> {
        let pair = Ed25519KeyPair::generate().map_err(|_| SigningKeyError::Unavailable)?;
        let seed = pair.seed().map_err(|_| SigningKeyError::Unavailable)?;
        let seed = aws_lc_rs::encoding::AsBigEndian::as_be_bytes(&seed)
            .map_err(|_| SigningKeyError::Unavailable)?;
        let mut bytes = seed.as_ref().to_vec();
        bytes.extend_from_slice(pair.public_key().as_ref());
        Ok(Self {
            text: format!("{SIGNING_KEY_PREFIX}{}", STANDARD.encode(bytes)),
            pair,
        })
    }

    /// A `whsk_` key; its public half must be the seed's own.
    pub fn parse(text: &str) -> Result<Self, SigningKeyError> {
        let encoded = text
            .strip_prefix(SIGNING_KEY_PREFIX)
            .ok_or(SigningKeyError::Malformed)?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| SigningKeyError::Malformed)?;
        if bytes.len() != 2 * ED25519_KEY_BYTES {
            return Err(SigningKeyError::Malformed);
        }
        let (seed, public) = bytes.split_at(ED25519_KEY_BYTES);
        let pair = Ed25519KeyPair::from_seed_and_public_key(seed, public)
            .map_err(|_| SigningKeyError::Inconsistent)?;
        Ok(Self {
            text: text.to_owned(),
            pair,
        })
    }

    /// The key as it is stored and given (`whsk_…`): it signs, so keep it secret.
    pub fn expose(&self) -> &str {
        &self.text
    }

    /// The public key receivers verify with: `whpk_` + base64 of its 32 bytes.
    pub fn public_key(&self) -> String {
        format!(
            "{PUBLIC_KEY_PREFIX}{}",
            STANDARD.encode(self.pair.public_key().as_ref())
        )
    }

    /// Standard Webhooks asymmetric signature of one message: `v1a,<base64>`.
    pub fn sign(&self, msg_id: &str, timestamp: i64, body: &[u8]) -> String {
        let signature = self.pair.sign(&signed_content(msg_id, timestamp, body));
        format!("v1a,{}", STANDARD.encode(signature.as_ref()))
    }
}

impl TryFrom<String> for SigningKey {
    type Error = SigningKeyError;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(&value)
    }
}

impl From<SigningKey> for String {
    fn from(value: SigningKey) -> Self {
        value.text
    }
}

impl PartialEq for SigningKey {
    fn eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(self.text.as_bytes(), other.text.as_bytes()).into()
    }
}

impl Eq for SigningKey {}

impl fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SigningKey(whsk_…, {})", self.public_key())
    }
}

/// `n` in decimal, written into `buf` (an `i64` takes at most 20 bytes): no string for it.
fn decimal(n: i64, buf: &mut [u8; 20]) -> &[u8] {
    use std::io::Write as _;
    let mut cursor = std::io::Cursor::new(&mut buf[..]);
    // 20 bytes hold any i64, sign included, so the write cannot run out of room.
    let _ = write!(cursor, "{n}");
    let len = cursor.position() as usize;
    &buf[..len]
}

/// What Standard Webhooks signs: `{id}.{timestamp}.{body}`.
fn signed_content(msg_id: &str, timestamp: i64, body: &[u8]) -> Vec<u8> {
    let mut content = format!("{msg_id}.{timestamp}.").into_bytes();
    content.extend_from_slice(body);
    content
}

/// What one delivery is signed with.
#[derive(Debug, Clone)]
pub struct SigningKeys<'a> {
    /// Whether the Standard Webhooks headers are sent.
    pub standard: bool,
    /// The live secrets, the current one first: each adds a `v1,` signature, so receivers on
    /// the old or the new secret verify during a rotation.
    pub secrets: Vec<&'a Secret>,
    /// The live Ed25519 keys, the current one first: each adds a `v1a,` signature after the
    /// `v1,` ones, so receivers on the old or the new public key verify during a rotation.
    pub ed25519: Vec<&'a SigningKey>,
    /// The headers that carry the seeds' hex signature, made with the current secret (a
    /// single hex value has no room for a second secret).
    pub hex_headers: Vec<&'a str>,
}

/// Every signature header of one delivery: the Standard Webhooks headers (unless turned
/// off) with every `v1,` and `v1a,` signature, and each hex signature header.
pub fn delivery_headers<'k>(
    keys: &SigningKeys<'k>,
    msg_id: &str,
    timestamp: i64,
    body: &[u8],
) -> Vec<(&'k str, String)> {
    let mut headers = Vec::new();
    if keys.standard {
        // The digits the header carries are the digits signed.
        let digits = timestamp.to_string();
        // Space-separated, as Standard Webhooks lists several; written into one string.
        let mut signatures = String::with_capacity(
            keys.secrets.len() * SIGNATURE_LEN + keys.ed25519.len() * V1A_SIGNATURE_LEN,
        );
        // Signatures in the header are separated by a space.
        let separate = |list: &mut String| {
            if !list.is_empty() {
                list.push(' ');
            }
        };
        for secret in &keys.secrets {
            separate(&mut signatures);
            secret.sign_into(&mut signatures, msg_id, digits.as_bytes(), body);
        }
        for key in &keys.ed25519 {
            separate(&mut signatures);
            signatures.push_str(&key.sign(msg_id, timestamp, body));
        }
        headers.extend([
            (HEADER_ID, msg_id.to_owned()),
            (HEADER_TIMESTAMP, digits),
            (HEADER_SIGNATURE, signatures),
        ]);
    }
    // Only subscriptions with a hex header pay for the second HMAC.
    if let Some(current) = keys
        .secrets
        .first()
        .filter(|_| !keys.hex_headers.is_empty())
    {
        let hex = sign_hex(current.expose(), body);
        for header in &keys.hex_headers {
            headers.push((*header, hex.clone()));
        }
    }
    headers
}

/// Why a delivery did not verify.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum VerifyError {
    #[error("the secret is empty or not valid base64")]
    InvalidSecret,
    #[error("the public key is not 'whpk_' followed by the base64 of 32 bytes")]
    InvalidPublicKey,
    #[error("the {0} header is missing")]
    MissingHeader(&'static str),
    #[error("the webhook-timestamp header is not a unix time in seconds")]
    InvalidTimestamp,
    #[error("the webhook-timestamp is more than 5 minutes from now")]
    TimestampOutOfTolerance,
    #[error("no v1 signature matches")]
    NoMatchingSignature,
    #[error("no v1a signature matches")]
    NoMatchingAsymmetricSignature,
}

/// What a receiver verifies with.
enum VerifyingKey {
    /// A `whsec_` secret's bytes: any `v1,` signature may match.
    Hmac(Vec<u8>),
    /// A `whpk_` public key's bytes: any `v1a,` signature may match.
    Ed25519(Vec<u8>),
}

impl VerifyingKey {
    fn parse(key: &str) -> Result<Self, VerifyError> {
        if let Some(encoded) = key.strip_prefix(PUBLIC_KEY_PREFIX) {
            return STANDARD
                .decode(encoded)
                .ok()
                .filter(|k| k.len() == ED25519_KEY_BYTES)
                .map(Self::Ed25519)
                .ok_or(VerifyError::InvalidPublicKey);
        }
        let encoded = key.strip_prefix(PREFIX).unwrap_or(key);
        STANDARD
            .decode(encoded)
            .ok()
            .filter(|k| !k.is_empty())
            .map(Self::Hmac)
            .ok_or(VerifyError::InvalidSecret)
    }

    fn matches_any(&self, msg_id: &str, ts: i64, body: &[u8], signatures: &str) -> bool {
        let candidates = |version: &'static str| {
            signatures
                .split(' ')
                .filter_map(move |sig| sig.strip_prefix(version))
                .filter_map(|sig| STANDARD.decode(sig).ok())
        };
        match self {
            Self::Hmac(key) => {
                let secret = Secret {
                    text: String::new(),
                    key: key.clone(),
                };
                let expected = secret.mac(msg_id, decimal(ts, &mut [0; 20]), body);
                candidates("v1,").any(|candidate| {
                    subtle::ConstantTimeEq::ct_eq(candidate.as_slice(), &expected[..]).into()
                })
            }
            Self::Ed25519(public) => {
                let content = signed_content(msg_id, ts, body);
                let public = UnparsedPublicKey::new(&ED25519, public.as_slice());
                candidates("v1a,").any(|candidate| public.verify(&content, &candidate).is_ok())
            }
        }
    }
}

/// Verifies a Standard Webhooks delivery as a receiver does.
///
/// `key` is a secret, with or without its `whsec_` prefix, against which any one matching
/// `v1` signature passes; or a `whpk_…` public key, against which any one matching `v1a`
/// (Ed25519) signature passes. `now` is the receiver's unix time in seconds. Other signature
/// versions are ignored.
pub fn verify(
    key: &str,
    msg_id: Option<&str>,
    timestamp: Option<&str>,
    signatures: Option<&str>,
    body: &[u8],
    now: i64,
) -> Result<(), VerifyError> {
    let key = VerifyingKey::parse(key)?;
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
    match (&key, key.matches_any(msg_id, ts, body, signatures)) {
        (_, true) => Ok(()),
        (VerifyingKey::Hmac(_), false) => Err(VerifyError::NoMatchingSignature),
        (VerifyingKey::Ed25519(_), false) => Err(VerifyError::NoMatchingAsymmetricSignature),
    }
}

/// [`verify`] over an HTTP header map, with the current time: `key` is a `whsec_…` secret
/// or a `whpk_…` public key.
pub fn verify_headers(
    key: &str,
    headers: &axum::http::HeaderMap,
    body: &[u8],
) -> Result<(), VerifyError> {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    verify(
        key,
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
    hex::encode(mac.finalize().into_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timestamp_is_signed_as_its_decimal_digits() {
        for n in [0, 7, 1614265330, -42, i64::MAX, i64::MIN] {
            assert_eq!(decimal(n, &mut [0; 20]), n.to_string().as_bytes());
        }
    }

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
            ed25519: vec![],
            hex_headers: vec!["x-webhook-signature"],
        };
        let headers = delivery_headers(&keys, id, ts, body.as_bytes());
        let get = |name: &str| {
            headers
                .iter()
                .find(|(n, _)| *n == name)
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
            ed25519: vec![],
            hex_headers: vec![],
        };
        assert_eq!(delivery_headers(&plain, id, ts, body.as_bytes()).len(), 3);
        let hex_only = SigningKeys {
            standard: false,
            secrets: vec![&current],
            ed25519: vec![],
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

    // svix-server's `test_asymmetric_key_signing`, reproduced with Python `cryptography`.
    const V1A_KEY: &str = "whsk_6Xb/dCcHpPea21PS1N9VY/NZW723CEc77N4rJCubMbfVKIDij2HKpMKkioLlX0dRqSKJp4AJ6p9lMicMFs6Kvg==";
    const V1A_PUBLIC: &str = "whpk_1SiA4o9hyqTCpIqC5V9HUakiiaeACeqfZTInDBbOir4=";
    const V1A_ID: &str = "msg_p5jXN8AQM9LWM0D4loKWxJek";
    const V1A_TS: i64 = 1614265330;
    const V1A_BODY: &str = r#"{"test": 2432232314}"#;
    const V1A_SIGNATURE: &str = "v1a,hnO3f9T8Ytu9HwrXslvumlUpqtNVqkhqw/enGzPCXe5BdqzCInXqYXFymVJaA7AZdpXwVLPo3mNl8EM+m7TBAg==";

    #[test]
    fn signs_the_v1a_vector_and_derives_its_public_key() {
        let key = SigningKey::parse(V1A_KEY).unwrap();
        assert_eq!(key.public_key(), V1A_PUBLIC);
        assert_eq!(key.expose(), V1A_KEY);
        assert_eq!(key.sign(V1A_ID, V1A_TS, V1A_BODY.as_bytes()), V1A_SIGNATURE);
    }

    #[test]
    fn verifies_v1a_with_the_public_key_only() {
        let ts = V1A_TS.to_string();
        let v = |key: &str, body: &str, sigs: &str, now: i64| {
            verify(
                key,
                Some(V1A_ID),
                Some(&ts),
                Some(sigs),
                body.as_bytes(),
                now,
            )
        };
        assert_eq!(v(V1A_PUBLIC, V1A_BODY, V1A_SIGNATURE, V1A_TS), Ok(()));
        let hmac = VECTORS[0].4;
        let both = format!("{hmac} {V1A_SIGNATURE}");
        assert_eq!(v(V1A_PUBLIC, V1A_BODY, &both, V1A_TS), Ok(()), "beside v1");
        assert_eq!(
            v(VECTORS[0].0, V1A_BODY, &both, V1A_TS),
            Ok(()),
            "a secret still verifies the v1 beside it"
        );
        assert_eq!(
            v(V1A_PUBLIC, V1A_BODY, hmac, V1A_TS),
            Err(VerifyError::NoMatchingAsymmetricSignature),
            "a public key checks v1a signatures only"
        );
        assert_eq!(
            v(V1A_PUBLIC, r#"{"test": 2432232315}"#, V1A_SIGNATURE, V1A_TS),
            Err(VerifyError::NoMatchingAsymmetricSignature)
        );
        let other = SigningKey::generate().unwrap().public_key();
        assert_eq!(
            v(&other, V1A_BODY, V1A_SIGNATURE, V1A_TS),
            Err(VerifyError::NoMatchingAsymmetricSignature),
            "a wrong key fails"
        );
        assert_eq!(
            v(V1A_PUBLIC, V1A_BODY, V1A_SIGNATURE, V1A_TS + 301),
            Err(VerifyError::TimestampOutOfTolerance)
        );
        for bad in ["whpk_", "whpk_***", "whpk_AAAA"] {
            assert_eq!(
                v(bad, V1A_BODY, V1A_SIGNATURE, V1A_TS),
                Err(VerifyError::InvalidPublicKey),
                "{bad}"
            );
        }
    }

    #[test]
    fn generated_signing_keys_parse_back_and_never_show_their_seed() {
        let a = SigningKey::generate().unwrap();
        let b = SigningKey::generate().unwrap();
        assert_ne!(a, b);
        assert!(a.expose().starts_with("whsk_"));
        let parsed = SigningKey::parse(a.expose()).unwrap();
        assert_eq!(parsed, a);
        assert_eq!(parsed.public_key(), a.public_key());
        assert_eq!(STANDARD.decode(&a.expose()[5..]).unwrap().len(), 64);
        assert_eq!(STANDARD.decode(&a.public_key()[5..]).unwrap().len(), 32);
        let debug = format!("{a:?}");
        assert!(!debug.contains(a.expose()), "{debug}");
        let stored = serde_json::to_string(&a).unwrap();
        assert_eq!(
            stored,
            format!("\"{}\"", a.expose()),
            "stored as one string"
        );
        assert_eq!(serde_json::from_str::<SigningKey>(&stored).unwrap(), a);
    }

    #[test]
    fn signing_keys_outside_the_rule_are_refused() {
        let bytes = STANDARD.decode(&V1A_KEY[5..]).unwrap();
        let seed_only = format!("whsk_{}", STANDARD.encode(&bytes[..32]));
        let mut swapped = bytes[32..].to_vec();
        swapped.extend_from_slice(&bytes[..32]);
        let swapped = format!("whsk_{}", STANDARD.encode(swapped));
        let mut other_public = bytes[..32].to_vec();
        other_public.extend_from_slice(&STANDARD.decode(&V1A_PUBLIC[5..]).unwrap()[..31]);
        other_public.push(0);
        let other_public = format!("whsk_{}", STANDARD.encode(other_public));
        for bad in [
            "",
            "whsk_",
            "whsk_***",
            &seed_only,
            V1A_PUBLIC,
            &V1A_KEY[5..],
        ] {
            assert_eq!(
                SigningKey::parse(bad),
                Err(SigningKeyError::Malformed),
                "{bad}"
            );
        }
        for bad in [&swapped, &other_public] {
            assert_eq!(
                SigningKey::parse(bad),
                Err(SigningKeyError::Inconsistent),
                "{bad}"
            );
        }
    }

    #[test]
    fn a_delivery_carries_v1_then_one_v1a_signature_per_live_key() {
        let secret = Secret::parse(VECTORS[0].0).unwrap();
        let current = SigningKey::parse(V1A_KEY).unwrap();
        let old = SigningKey::generate().unwrap();
        let keys = SigningKeys {
            standard: true,
            secrets: vec![&secret],
            ed25519: vec![&current, &old],
            hex_headers: vec![],
        };
        let headers = delivery_headers(&keys, V1A_ID, V1A_TS, V1A_BODY.as_bytes());
        let signatures = &headers
            .iter()
            .find(|(n, _)| *n == HEADER_SIGNATURE)
            .unwrap()
            .1;
        let parts: Vec<&str> = signatures.split(' ').collect();
        assert_eq!(parts.len(), 3, "{signatures}");
        assert_eq!(parts[0], VECTORS[0].4);
        assert_eq!(parts[1], V1A_SIGNATURE);
        assert!(parts[2].starts_with("v1a,"));
        let ts = V1A_TS.to_string();
        for public in [current.public_key(), old.public_key()] {
            assert_eq!(
                verify(
                    &public,
                    Some(V1A_ID),
                    Some(&ts),
                    Some(signatures),
                    V1A_BODY.as_bytes(),
                    V1A_TS
                ),
                Ok(())
            );
        }
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
