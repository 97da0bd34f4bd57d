//! Envelope encryption of secrets at rest: one data key per process (container) from the key
//! service ([`DataKeys`]: AWS KMS `GenerateDataKey`, AES-256), cached in memory; each value
//! sealed with AES-256-GCM under it (aws-lc-rs, random nonce), next to the data key in its
//! encrypted form. Opening a value decrypts its data key with the key service once per
//! distinct encrypted data key, then from the cache.
//!
//! A sealed value is one string: `tdenc1:` + base64 of
//! `u16 length of the encrypted data key ‖ encrypted data key ‖ 12-byte nonce ‖ ciphertext ‖
//! 16-byte tag`. The caller's `aad` (for the DynamoDB store, the item's key) is
//! authenticated with it, so a sealed value copied into another item does not open.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use tokio::sync::OnceCell;

use tidings::ports::keys::DataKeys;
use tidings::ports::store::StoreError;

/// What every sealed value starts with; anything else is a value stored before encryption
/// (read as it is, and sealed on its next write).
pub const SEALED_PREFIX: &str = "tdenc1:";

/// Whether `stored` is a sealed value rather than one written in the clear.
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(SEALED_PREFIX)
}

/// Distinct data keys kept opened; past this the cache starts over (one `Decrypt` each
/// again). Each writer container adds one, so this is months of deployments.
const MAX_OPENED_KEYS: usize = 4096;

struct SealingKey {
    key: Arc<RandomizedNonceKey>,
    encrypted: Vec<u8>,
}

type Opened = Arc<OnceCell<Arc<RandomizedNonceKey>>>;

/// Seals and opens secret values; build one per process and share it.
pub struct SecretCipher {
    keys: Arc<dyn DataKeys>,
    context: String,
    sealing: OnceCell<SealingKey>,
    opened: Mutex<HashMap<Vec<u8>, Opened>>,
}

fn corrupt(what: &str) -> StoreError {
    StoreError::Corrupt(format!("sealed secret: {what}"))
}

fn aes_key(plaintext: &[u8]) -> Result<RandomizedNonceKey, StoreError> {
    RandomizedNonceKey::new(&AES_256_GCM, plaintext)
        .map_err(|_| corrupt("the data key is not an AES-256 key"))
}

impl SecretCipher {
    /// `context` names what the data keys protect (the table): KMS binds it to each data key
    /// as its encryption context.
    pub fn new(keys: Arc<dyn DataKeys>, context: impl Into<String>) -> Self {
        Self {
            keys,
            context: context.into(),
            sealing: OnceCell::new(),
            opened: Mutex::new(HashMap::new()),
        }
    }

    /// This process's data key: made on first use (one `GenerateDataKey`), then cached. A
    /// failure is not cached: the next call asks again.
    async fn sealing_key(&self) -> Result<&SealingKey, StoreError> {
        self.sealing
            .get_or_try_init(|| async {
                let data_key = self.keys.generate_data_key(&self.context).await?;
                let key = Arc::new(aes_key(&data_key.plaintext)?);
                // Our own values open without asking the key service.
                let cell = OnceCell::new_with(Some(key.clone()));
                self.opened_cell(&data_key.encrypted, Some(cell));
                Ok(SealingKey {
                    key,
                    encrypted: data_key.encrypted,
                })
            })
            .await
    }

    fn opened_cell(
        &self,
        encrypted: &[u8],
        seed: Option<OnceCell<Arc<RandomizedNonceKey>>>,
    ) -> Opened {
        let mut opened = self.opened.lock().unwrap_or_else(|e| e.into_inner());
        if opened.len() >= MAX_OPENED_KEYS && !opened.contains_key(encrypted) {
            opened.clear();
        }
        opened
            .entry(encrypted.to_vec())
            .or_insert_with(|| Arc::new(seed.unwrap_or_default()))
            .clone()
    }

    /// The opened data key of `encrypted`: one `Decrypt` per distinct key, shared by
    /// concurrent callers; a failure is not cached.
    async fn opening_key(&self, encrypted: &[u8]) -> Result<Arc<RandomizedNonceKey>, StoreError> {
        let cell = self.opened_cell(encrypted, None);
        cell.get_or_try_init(|| async {
            let plaintext = self.keys.decrypt_data_key(encrypted, &self.context).await?;
            Ok::<_, StoreError>(Arc::new(aes_key(&plaintext)?))
        })
        .await
        .cloned()
    }

    /// `plaintext` sealed under this process's data key, with `aad` authenticated.
    pub async fn seal(&self, aad: &[u8], plaintext: &[u8]) -> Result<String, StoreError> {
        let sealing = self.sealing_key().await?;
        let length = u16::try_from(sealing.encrypted.len())
            .map_err(|_| corrupt("the encrypted data key is too long"))?;
        let mut sealed = plaintext.to_vec();
        let nonce = sealing
            .key
            .seal_in_place_append_tag(Aad::from(aad), &mut sealed)
            .map_err(|_| StoreError::Unavailable("AES-GCM sealing failed".into()))?;
        let mut out = Vec::with_capacity(2 + sealing.encrypted.len() + NONCE_LEN + sealed.len());
        out.extend_from_slice(&length.to_be_bytes());
        out.extend_from_slice(&sealing.encrypted);
        out.extend_from_slice(nonce.as_ref());
        out.extend_from_slice(&sealed);
        Ok(format!("{SEALED_PREFIX}{}", STANDARD.encode(out)))
    }

    /// The plaintext of a value [`SecretCipher::seal`] made with the same `aad`.
    pub async fn open(&self, aad: &[u8], sealed: &str) -> Result<Vec<u8>, StoreError> {
        let encoded = sealed
            .strip_prefix(SEALED_PREFIX)
            .ok_or_else(|| corrupt("not a sealed value"))?;
        let bytes = STANDARD
            .decode(encoded)
            .map_err(|_| corrupt("not base64"))?;
        let (length, rest) = bytes
            .split_first_chunk::<2>()
            .ok_or_else(|| corrupt("truncated"))?;
        let length = usize::from(u16::from_be_bytes(*length));
        if rest.len() < length + NONCE_LEN {
            return Err(corrupt("truncated"));
        }
        let (encrypted, rest) = rest.split_at(length);
        let (nonce, ciphertext) = rest.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| corrupt("bad nonce"))?;
        let key = self.opening_key(encrypted).await?;
        let mut in_out = ciphertext.to_vec();
        let plaintext = key
            .open_in_place(nonce, Aad::from(aad), &mut in_out)
            .map_err(|_| {
                corrupt("it does not authenticate (tampered, or moved from another item)")
            })?;
        Ok(plaintext.to_vec())
    }

    /// A string sealed as [`SecretCipher::seal`] does.
    pub async fn seal_str(&self, aad: &[u8], plaintext: &str) -> Result<String, StoreError> {
        self.seal(aad, plaintext.as_bytes()).await
    }

    /// A stored string: opened when sealed, as it is when it was written before encryption.
    pub async fn open_str(&self, aad: &[u8], stored: &str) -> Result<String, StoreError> {
        if !is_sealed(stored) {
            return Ok(stored.to_owned());
        }
        String::from_utf8(self.open(aad, stored).await?).map_err(|_| corrupt("not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use async_trait::async_trait;

    use super::*;
    use tidings::adapters::memory::MemoryDataKeys;
    use tidings::ports::keys::{DataKey, KeyError};

    /// Counts the key service's calls.
    struct Counting {
        inner: MemoryDataKeys,
        generated: AtomicUsize,
        decrypted: AtomicUsize,
    }

    #[async_trait]
    impl DataKeys for Counting {
        async fn generate_data_key(&self, context: &str) -> Result<DataKey, KeyError> {
            self.generated.fetch_add(1, Ordering::SeqCst);
            self.inner.generate_data_key(context).await
        }
        async fn decrypt_data_key(
            &self,
            encrypted: &[u8],
            context: &str,
        ) -> Result<Vec<u8>, KeyError> {
            self.decrypted.fetch_add(1, Ordering::SeqCst);
            self.inner.decrypt_data_key(encrypted, context).await
        }
    }

    fn counting(inner: MemoryDataKeys) -> Arc<Counting> {
        Arc::new(Counting {
            inner,
            generated: AtomicUsize::new(0),
            decrypted: AtomicUsize::new(0),
        })
    }

    #[tokio::test]
    async fn seals_once_per_process_and_opens_each_data_key_once() {
        let master = MemoryDataKeys::new();
        let keys = counting(master.clone());
        let writer = SecretCipher::new(keys.clone(), "table");
        let a = writer
            .seal_str(b"item-a", "whsec_secret-one")
            .await
            .unwrap();
        let b = writer
            .seal_str(b"item-b", "whsec_secret-one")
            .await
            .unwrap();
        assert!(a.starts_with(SEALED_PREFIX) && !a.contains("secret-one"));
        assert_ne!(a, b, "a fresh nonce each time");
        assert_eq!(
            writer.open_str(b"item-a", &a).await.unwrap(),
            "whsec_secret-one"
        );
        assert_eq!(keys.generated.load(Ordering::SeqCst), 1);
        assert_eq!(
            keys.decrypted.load(Ordering::SeqCst),
            0,
            "its own key is cached"
        );

        // Another container: one Decrypt for the writer's data key, however many values.
        let other_keys = counting(master);
        let reader = SecretCipher::new(other_keys.clone(), "table");
        assert_eq!(
            reader.open_str(b"item-a", &a).await.unwrap(),
            "whsec_secret-one"
        );
        assert_eq!(
            reader.open_str(b"item-b", &b).await.unwrap(),
            "whsec_secret-one"
        );
        assert_eq!(other_keys.decrypted.load(Ordering::SeqCst), 1);
        assert_eq!(
            other_keys.generated.load(Ordering::SeqCst),
            0,
            "reading makes no key"
        );
    }

    #[tokio::test]
    async fn a_value_moved_or_tampered_with_does_not_open_and_plain_values_pass_through() {
        let cipher = SecretCipher::new(Arc::new(MemoryDataKeys::new()), "table");
        let sealed = cipher.seal_str(b"item-a", "secret-key").await.unwrap();
        assert!(matches!(
            cipher.open_str(b"item-b", &sealed).await,
            Err(StoreError::Corrupt(_))
        ));
        let mut bytes = STANDARD.decode(&sealed[SEALED_PREFIX.len()..]).unwrap();
        let last = bytes.len() - 1;
        bytes[last] ^= 1;
        let tampered = format!("{SEALED_PREFIX}{}", STANDARD.encode(bytes));
        assert!(matches!(
            cipher.open_str(b"item-a", &tampered).await,
            Err(StoreError::Corrupt(_))
        ));
        assert!(matches!(
            cipher.open_str(b"item-a", "tdenc1:AA").await,
            Err(StoreError::Corrupt(_))
        ));
        assert_eq!(
            cipher.open_str(b"item-a", "secret-key").await.unwrap(),
            "secret-key"
        );

        // Another master key (another deployment, another table): refused, not garbage.
        let stranger = SecretCipher::new(Arc::new(MemoryDataKeys::new()), "table");
        assert!(matches!(
            stranger.open_str(b"item-a", &sealed).await,
            Err(StoreError::Corrupt(_))
        ));
    }
}
