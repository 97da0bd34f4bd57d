//! AWS KMS as the key service: `GenerateDataKey` (AES-256) and `Decrypt` on one symmetric
//! key (`TIDINGS_KMS_KEY_ID`), with the table's name as encryption context.

use async_trait::async_trait;
use aws_sdk_kms::Client;
use aws_sdk_kms::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kms::primitives::Blob;
use aws_sdk_kms::types::DataKeySpec;

use tidings::ports::keys::{DataKey, DataKeys, KeyError};

/// The encryption context's key: `{"tidings:table": <table name>}`.
pub const CONTEXT_KEY: &str = "tidings:table";

pub struct KmsDataKeys {
    client: Client,
    key_id: String,
}

impl KmsDataKeys {
    /// `key_id`: the key's ARN, id or alias (`alias/…`).
    pub fn new(client: Client, key_id: String) -> Self {
        Self { client, key_id }
    }
}

/// An encrypted data key KMS will not take is [`KeyError::Rejected`]; anything else (network,
/// throttling, a disabled key, a missing permission) is an outage to retry.
fn key_error<E, R>(error: SdkError<E, R>) -> KeyError
where
    E: std::error::Error + ProvideErrorMetadata + 'static,
    R: std::fmt::Debug,
{
    let rejected = error
        .as_service_error()
        .and_then(|e| e.code())
        .is_some_and(|code| matches!(code, "InvalidCiphertextException" | "IncorrectKeyException"));
    let detail = DisplayErrorContext(error).to_string();
    if rejected {
        KeyError::Rejected(detail)
    } else {
        KeyError::Unavailable(detail)
    }
}

#[async_trait]
impl DataKeys for KmsDataKeys {
    async fn generate_data_key(&self, context: &str) -> Result<DataKey, KeyError> {
        let output = self
            .client
            .generate_data_key()
            .key_id(&self.key_id)
            .key_spec(DataKeySpec::Aes256)
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(key_error)?;
        match (output.plaintext, output.ciphertext_blob) {
            (Some(plaintext), Some(encrypted)) => Ok(DataKey {
                plaintext: plaintext.into_inner(),
                encrypted: encrypted.into_inner(),
            }),
            _ => Err(KeyError::Unavailable(
                "GenerateDataKey returned no key".into(),
            )),
        }
    }

    async fn decrypt_data_key(&self, encrypted: &[u8], context: &str) -> Result<Vec<u8>, KeyError> {
        let output = self
            .client
            .decrypt()
            .key_id(&self.key_id)
            .ciphertext_blob(Blob::new(encrypted))
            .encryption_context(CONTEXT_KEY, context)
            .send()
            .await
            .map_err(key_error)?;
        output
            .plaintext
            .map(Blob::into_inner)
            .ok_or_else(|| KeyError::Unavailable("Decrypt returned no plaintext".into()))
    }
}
