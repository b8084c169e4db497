//! Signs event batches as SendGrid's Event Webhook does (ECDSA P-256 over
//! the timestamp and the body), with a key pair made on the spot: the tests
//! and the events benchmark post batches the server must verify.
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p256::ecdsa::signature::Signer;
use p256::ecdsa::{Signature, SigningKey};
use p256::elliptic_curve::Generate;
use p256::pkcs8::EncodePublicKey;

pub struct EventSigner(SigningKey);

impl Default for EventSigner {
    fn default() -> Self {
        Self(SigningKey::generate())
    }
}

impl EventSigner {
    /// The public key as SendGrid shows it (`SENDGRID_WEBHOOK_PUBLIC_KEY`): base64 DER.
    pub fn public_key(&self) -> String {
        let der = self.0.verifying_key().to_public_key_der().map(|der| der.as_bytes().to_vec()).unwrap_or_default();
        STANDARD.encode(der)
    }

    /// The signature header's value for a timestamp header and a body.
    pub fn sign(&self, timestamp: &str, body: &[u8]) -> String {
        let signed: Vec<u8> = timestamp.as_bytes().iter().chain(body).copied().collect();
        let signature: Signature = self.0.sign(&signed);
        STANDARD.encode(signature.to_der().as_bytes())
    }
}
