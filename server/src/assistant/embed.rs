//! Sentence embeddings for the offline router: all-MiniLM-L6-v2 run by candle on the CPU,
//! loaded from a configured directory (never from a hub), its weights checked by sha256.
//! Only in builds with the `embeddings` feature (candle takes minutes to compile); without
//! it, or without the files, [`Embedder::load`] fails and the router uses rules alone.

use std::path::Path;

/// sha256 of the `model.safetensors` and `tokenizer.json` that `scripts/setup.sh` installs.
pub const MODEL_SHA256: &str = "53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db";
pub const TOKENIZER_SHA256: &str =
    "be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037";

#[cfg(feature = "embeddings")]
pub use with_model::Embedder;

#[cfg(not(feature = "embeddings"))]
pub struct Embedder;

#[cfg(not(feature = "embeddings"))]
impl Embedder {
    pub fn load(_dir: &Path) -> anyhow::Result<Embedder> {
        anyhow::bail!("this build has no embedding support (cargo feature `embeddings`)")
    }

    pub fn embed(&self, _text: &str) -> anyhow::Result<Vec<f32>> {
        anyhow::bail!("no embedding support")
    }
}

#[cfg(feature = "embeddings")]
mod with_model {
    use super::{Path, MODEL_SHA256, TOKENIZER_SHA256};
    use anyhow::Context;
    use candle_core::{DType, Device, Tensor};
    use candle_nn::VarBuilder;
    use candle_transformers::models::bert::{BertModel, Config};
    use sha2::{Digest, Sha256};
    use tokenizers::{Tokenizer, TruncationParams};

    pub struct Embedder {
        model: BertModel,
        tokenizer: Tokenizer,
    }

    fn check_sha256(path: &Path, want: &str) -> anyhow::Result<Vec<u8>> {
        let bytes = std::fs::read(path).with_context(|| format!("read {}", path.display()))?;
        let got = format!("{:x}", Sha256::digest(&bytes));
        anyhow::ensure!(
            got == want,
            "{} has sha256 {got}, expected {want}",
            path.display()
        );
        Ok(bytes)
    }

    impl Embedder {
        /// Loads `model.safetensors`, `tokenizer.json` and `config.json` from `dir`.
        pub fn load(dir: &Path) -> anyhow::Result<Embedder> {
            let weights = check_sha256(&dir.join("model.safetensors"), MODEL_SHA256)?;
            let tok = check_sha256(&dir.join("tokenizer.json"), TOKENIZER_SHA256)?;
            let config: Config = serde_json::from_slice(
                &std::fs::read(dir.join("config.json")).context("read config.json")?,
            )
            .context("parse config.json")?;
            let mut tokenizer = Tokenizer::from_bytes(&tok).map_err(anyhow::Error::msg)?;
            // The packaged tokenizer pads every input to 128 tokens: turn that off, or the
            // mean pooling below would average padding.
            tokenizer.with_padding(None);
            tokenizer
                .with_truncation(Some(TruncationParams {
                    max_length: 128,
                    ..Default::default()
                }))
                .map_err(anyhow::Error::msg)?;
            let vb = VarBuilder::from_buffered_safetensors(weights, DType::F32, &Device::Cpu)?;
            let model = BertModel::load(vb, &config)?;
            Ok(Embedder { model, tokenizer })
        }

        /// The unit-length mean-pooled embedding of `text` (384 numbers).
        pub fn embed(&self, text: &str) -> anyhow::Result<Vec<f32>> {
            let enc = self
                .tokenizer
                .encode(text, true)
                .map_err(anyhow::Error::msg)?;
            let dev = &Device::Cpu;
            let ids = Tensor::new(enc.get_ids(), dev)?.unsqueeze(0)?;
            let types = ids.zeros_like()?;
            let mask = Tensor::new(enc.get_attention_mask(), dev)?.unsqueeze(0)?;
            let out = self.model.forward(&ids, &types, Some(&mask))?;
            let m = mask.to_dtype(DType::F32)?.unsqueeze(2)?;
            let mean = out.broadcast_mul(&m)?.sum(1)?.broadcast_div(&m.sum(1)?)?;
            let norm = mean.sqr()?.sum_keepdim(1)?.sqrt()?;
            Ok(mean.broadcast_div(&norm)?.squeeze(0)?.to_vec1::<f32>()?)
        }
    }
}

/// Cosine similarity of two unit vectors.
pub fn cosine(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}
