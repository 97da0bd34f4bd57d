//! The key service port: data keys for envelope encryption (AWS KMS on AWS, a key held in
//! the process in memory). `tidings_aws::cipher::SecretCipher` seals secrets with
//! them; this port is the one place a KMS call happens, so a test can make exactly one fail.

use async_trait::async_trait;
use thiserror::Error;

use crate::ports::store::StoreError;

#[derive(Debug, Error)]
pub enum KeyError {
    /// The key service cannot be reached, throttles, or refuses for now (a disabled key, a
    /// missing permission): worth a retry once it is back.
    #[error("the key service (KMS) is unavailable: {0}")]
    Unavailable(String),
    /// The key service rejected the encrypted data key itself (tampered, another key, another
    /// encryption context): a retry will not help.
    #[error("the key service rejected an encrypted data key: {0}")]
    Rejected(String),
}

impl From<KeyError> for StoreError {
    /// What callers see says which service failed, not how: the SDK's detail (which names
    /// the key) goes to the log.
    fn from(error: KeyError) -> Self {
        tracing::warn!(%error, "key service call failed");
        match error {
            KeyError::Unavailable(_) => StoreError::Unavailable(
                "the key service (AWS KMS) is unavailable, so secrets can be neither encrypted \
                 nor decrypted"
                    .into(),
            ),
            KeyError::Rejected(_) => StoreError::Corrupt(
                "the key service (AWS KMS) rejected a stored secret's encrypted data key".into(),
            ),
        }
    }
}

/// A fresh 256-bit data key: in the clear, for this process only, and encrypted under the
/// master key, to be stored beside what it seals.
pub struct DataKey {
    pub plaintext: Vec<u8>,
    pub encrypted: Vec<u8>,
}

impl std::fmt::Debug for DataKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "DataKey({} encrypted bytes)", self.encrypted.len())
    }
}

/// Makes and unwraps data keys under one master key. `context` is bound to each data key
/// (KMS encryption context): a data key only decrypts with the context it was made with.
#[async_trait]
pub trait DataKeys: Send + Sync {
    /// A new AES-256 data key (KMS `GenerateDataKey`).
    async fn generate_data_key(&self, context: &str) -> Result<DataKey, KeyError>;
    /// The plaintext of a data key `generate_data_key` made (KMS `Decrypt`).
    async fn decrypt_data_key(&self, encrypted: &[u8], context: &str) -> Result<Vec<u8>, KeyError>;
}
