//! Saleor's JWS signature: RS256 over an unencoded, detached payload (RFC 7797), with the
//! deployment's RSA keys published as a JWKS.
//!
//! `Saleor-Signature: <base64url protected header>..<base64url signature>`, where the
//! protected header is `{"alg":"RS256","b64":false,"crit":["b64"],"kid":…,"typ":"JWT"}`
//! and the signing input is `BASE64URL(header) || "." || the raw body bytes`. `kid` is the
//! key's RFC 7638 thumbprint.

use std::fmt;

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rand::SystemRandom;
use aws_lc_rs::signature::{KeyPair, RSA_PKCS1_SHA256, RsaKeyPair};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde::Serialize;
use sha2::{Digest, Sha256};
use thiserror::Error;

#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum RsaKeyError {
    #[error("not a base64 PKCS#8 RSA private key")]
    Malformed,
    #[error("the crypto library could not make or use an RSA key")]
    Unavailable,
}

/// One RSA key of the deployment, which signs `saleor` deliveries that have no secret key.
/// Stored as the base64 of its PKCS#8 document; its `Debug` never shows it.
pub struct RsaSigningKey {
    pkcs8: String,
    pair: RsaKeyPair,
    kid: String,
    n: String,
    e: String,
}

/// A public key as a JWKS lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Jwk {
    pub kty: &'static str,
    pub key_ops: [&'static str; 1],
    pub n: String,
    pub e: String,
    #[serde(rename = "use")]
    pub use_: &'static str,
    pub kid: String,
    pub alg: &'static str,
}

/// The protected header, its fields in the order Saleor writes them.
#[derive(Serialize)]
struct ProtectedHeader<'a> {
    alg: &'static str,
    b64: bool,
    crit: [&'static str; 1],
    kid: &'a str,
    typ: &'static str,
}

impl RsaSigningKey {
    /// A fresh 2048-bit key.
    pub fn generate() -> Result<Self, RsaKeyError> {
        let pair = RsaKeyPair::generate(aws_lc_rs::rsa::KeySize::Rsa2048)
            .map_err(|_| RsaKeyError::Unavailable)?;
        let der = pair.as_der().map_err(|_| RsaKeyError::Unavailable)?;
        Self::from_pair(STANDARD.encode(der.as_ref()), pair)
    }

    /// From the base64 of its PKCS#8 document, as stored.
    pub fn parse(pkcs8: &str) -> Result<Self, RsaKeyError> {
        let der = STANDARD.decode(pkcs8).map_err(|_| RsaKeyError::Malformed)?;
        let pair = RsaKeyPair::from_pkcs8(&der).map_err(|_| RsaKeyError::Malformed)?;
        Self::from_pair(pkcs8.to_owned(), pair)
    }

    fn from_pair(pkcs8: String, pair: RsaKeyPair) -> Result<Self, RsaKeyError> {
        let public = pair.public_key();
        let n = URL_SAFE_NO_PAD.encode(public.modulus().big_endian_without_leading_zero());
        let e = URL_SAFE_NO_PAD.encode(public.exponent().big_endian_without_leading_zero());
        // RFC 7638: the required members in lexicographic order, no whitespace.
        let thumbprint_input = format!(r#"{{"e":"{e}","kty":"RSA","n":"{n}"}}"#);
        let kid = URL_SAFE_NO_PAD.encode(Sha256::digest(thumbprint_input.as_bytes()));
        Ok(Self {
            pkcs8,
            pair,
            kid,
            n,
            e,
        })
    }

    /// The base64 PKCS#8 document, to store.
    pub fn expose(&self) -> &str {
        &self.pkcs8
    }

    /// The RFC 7638 thumbprint, the `kid` of its signatures and of its JWK.
    pub fn kid(&self) -> &str {
        &self.kid
    }

    pub fn jwk(&self) -> Jwk {
        Jwk {
            kty: "RSA",
            key_ops: ["verify"],
            n: self.n.clone(),
            e: self.e.clone(),
            use_: "sig",
            kid: self.kid.clone(),
            alg: "RS256",
        }
    }

    /// The detached JWS of `body`: `<b64url header>..<b64url signature>`.
    pub fn sign_detached(&self, body: &[u8]) -> Result<String, RsaKeyError> {
        let header = serde_json::to_vec(&ProtectedHeader {
            alg: "RS256",
            b64: false,
            crit: ["b64"],
            kid: &self.kid,
            typ: "JWT",
        })
        .map_err(|_| RsaKeyError::Unavailable)?;
        let header = URL_SAFE_NO_PAD.encode(header);
        let mut input = Vec::with_capacity(header.len() + 1 + body.len());
        input.extend_from_slice(header.as_bytes());
        input.push(b'.');
        input.extend_from_slice(body);
        let mut signature = vec![0; self.pair.public_modulus_len()];
        self.pair
            .sign(
                &RSA_PKCS1_SHA256,
                &SystemRandom::new(),
                &input,
                &mut signature,
            )
            .map_err(|_| RsaKeyError::Unavailable)?;
        Ok(format!("{header}..{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

impl serde::Serialize for RsaSigningKey {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.pkcs8)
    }
}

impl<'de> serde::Deserialize<'de> for RsaSigningKey {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        Self::parse(&text).map_err(serde::de::Error::custom)
    }
}

impl fmt::Debug for RsaSigningKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaSigningKey(kid {})", self.kid)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aws_lc_rs::signature::{RSA_PKCS1_2048_8192_SHA256, RsaPublicKeyComponents};

    #[test]
    fn a_detached_jws_verifies_over_the_header_and_the_raw_body() {
        let key = RsaSigningKey::generate().unwrap();
        let body = br#"{"order":{"id":"T3JkZXI6MQ=="}}"#;
        let jws = key.sign_detached(body).unwrap();
        let (header, rest) = jws.split_once('.').unwrap();
        let signature = rest.strip_prefix('.').expect("an empty payload part");
        let decoded: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap();
        assert_eq!(
            String::from_utf8(URL_SAFE_NO_PAD.decode(header).unwrap()).unwrap(),
            format!(
                r#"{{"alg":"RS256","b64":false,"crit":["b64"],"kid":"{}","typ":"JWT"}}"#,
                key.kid()
            )
        );
        assert_eq!(decoded["kid"], key.kid());
        let jwk = key.jwk();
        let n = URL_SAFE_NO_PAD.decode(&jwk.n).unwrap();
        let e = URL_SAFE_NO_PAD.decode(&jwk.e).unwrap();
        let public = RsaPublicKeyComponents { n: &n, e: &e };
        let mut input = format!("{header}.").into_bytes();
        input.extend_from_slice(body);
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(
            public
                .verify(&RSA_PKCS1_2048_8192_SHA256, &input, &signature)
                .is_ok()
        );
        let mut tampered = format!("{header}.").into_bytes();
        tampered.extend_from_slice(br#"{"order":{"id":"other"}}"#);
        assert!(
            public
                .verify(&RSA_PKCS1_2048_8192_SHA256, &tampered, &signature)
                .is_err()
        );
    }

    #[test]
    fn a_stored_key_reads_back_with_the_same_thumbprint() {
        let key = RsaSigningKey::generate().unwrap();
        let back = RsaSigningKey::parse(key.expose()).unwrap();
        assert_eq!(back.kid(), key.kid());
        assert_eq!(back.jwk(), key.jwk());
        assert_eq!(key.jwk().e, "AQAB", "65537");
        assert!(RsaSigningKey::parse("bm90IGEga2V5").is_err());
        assert!(!format!("{key:?}").contains(key.expose()));
    }

    #[test]
    fn the_thumbprint_follows_rfc_7638() {
        // RFC 7638 section 3.1's example key and thumbprint.
        let n = "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw";
        let input = format!(r#"{{"e":"AQAB","kty":"RSA","n":"{n}"}}"#);
        assert_eq!(
            URL_SAFE_NO_PAD.encode(Sha256::digest(input.as_bytes())),
            "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
        );
    }
}
