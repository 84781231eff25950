//! The crate's one error type, in the style of candle: a `thiserror` enum and a `Result` alias.

/// Everything that can go wrong in the numeric core and the web glue.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An error from candle (tensor shapes, dtypes, autograd).
    #[error("tensor error: {0}")]
    Candle(#[from] candle_core::Error),

    /// A safetensors file that cannot be parsed.
    #[error("cannot read safetensors data: {0}")]
    SafeTensors(#[from] safetensors::SafeTensorError),

    /// JSON that cannot be parsed or written (model cards, reports, worker messages).
    #[error("JSON error: {0}")]
    Json(#[from] serde_json::Error),

    /// A data file whose contents are not what the lab expects.
    #[error("invalid data: {0}")]
    Data(String),

    /// Model weights that are missing, truncated, of the wrong shape or not finite.
    #[error("invalid weights for model '{model}': {reason}")]
    Weights { model: String, reason: String },

    /// A model name the lab does not know.
    #[error("unknown model '{0}'")]
    UnknownModel(String),

    /// Input an experiment cannot work with (wrong size, NaN, ...); the message is for people, so
    /// it carries no prefix.
    #[error("{0}")]
    Input(String),

    /// A shared load (a file fetched once for many users) that failed; the message says why.
    #[error("{0}")]
    Load(String),

    /// The browser's own storage (IndexedDB) could not keep or give back a file; the message
    /// says why (private browsing, a full disk, no IndexedDB).
    #[error("browser storage: {0}")]
    Storage(String),

    /// The GPU engine failed: no device, a lost device, a validation or out-of-memory error; the
    /// worker falls back to the CPU.
    #[error("GPU: {0}")]
    Gpu(String),

    /// A long computation stopped because the user cancelled it.
    #[error("cancelled")]
    Cancelled,

    /// Reading or writing a file (native tools only).
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
}

impl Error {
    /// The message as a page shows it: a sentence that starts with a capital letter.
    pub fn for_people(&self) -> String {
        let text = self.to_string();
        let mut chars = text.chars();
        match chars.next() {
            Some(first) => first.to_uppercase().chain(chars).collect(),
            None => text,
        }
    }
}

/// `Result` with the crate's [`Error`].
pub type Result<T> = std::result::Result<T, Error>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_for_people_have_no_developer_prefix() {
        let e = Error::Input("a patch is 1 to 28 pixels wide, not 0".into());
        assert_eq!(e.for_people(), "A patch is 1 to 28 pixels wide, not 0");
        assert_eq!(Error::Cancelled.for_people(), "Cancelled");
    }
}
