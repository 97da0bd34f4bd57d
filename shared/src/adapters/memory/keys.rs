//! A key service in this process: a random master key that lives and dies with it, wrapping
//! data keys with AES-256-GCM as KMS would. For tests, and anywhere no KMS key is wanted.

use std::sync::Arc;

use async_trait::async_trait;
use aws_lc_rs::aead::{AES_256_GCM, Aad, NONCE_LEN, Nonce, RandomizedNonceKey};

use crate::ports::keys::{DataKey, DataKeys, KeyError};

const KEY_BYTES: usize = 32;

/// Clones share the master key, as two containers share a KMS key.
#[derive(Clone)]
pub struct MemoryDataKeys {
    master: Arc<RandomizedNonceKey>,
}

fn random_key() -> Result<Vec<u8>, KeyError> {
    let mut key = vec![0u8; KEY_BYTES];
    aws_lc_rs::rand::fill(&mut key)
        .map_err(|_| KeyError::Unavailable("no random source".into()))?;
    Ok(key)
}

impl MemoryDataKeys {
    /// A fresh master key from the crypto library's random source.
    ///
    /// # Panics
    /// If the operating system has no random source: nothing can be sealed then.
    pub fn new() -> Self {
        let master = random_key()
            .ok()
            .and_then(|key| RandomizedNonceKey::new(&AES_256_GCM, &key).ok())
            .expect("the crypto library makes an AES-256 key");
        Self {
            master: Arc::new(master),
        }
    }
}

impl Default for MemoryDataKeys {
    fn default() -> Self {
        Self::new()
    }
}

#[async_trait]
impl DataKeys for MemoryDataKeys {
    async fn generate_data_key(&self, context: &str) -> Result<DataKey, KeyError> {
        let plaintext = random_key()?;
        let mut wrapped = plaintext.clone();
        let nonce = self
            .master
            .seal_in_place_append_tag(Aad::from(context.as_bytes()), &mut wrapped)
            .map_err(|_| KeyError::Unavailable("AES-GCM sealing failed".into()))?;
        let mut encrypted = nonce.as_ref().to_vec();
        encrypted.extend_from_slice(&wrapped);
        Ok(DataKey {
            plaintext,
            encrypted,
        })
    }

    async fn decrypt_data_key(&self, encrypted: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        let rejected =
            || KeyError::Rejected("not a data key of this master key and context".into());
        if encrypted.len() < NONCE_LEN {
            return Err(rejected());
        }
        let (nonce, wrapped) = encrypted.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| rejected())?;
        let mut in_out = wrapped.to_vec();
        let plaintext = self
            .master
            .open_in_place(nonce, Aad::from(context.as_bytes()), &mut in_out)
            .map_err(|_| rejected())?;
        Ok(plaintext.to_vec())
    }
}
