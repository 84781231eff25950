//! Fetching the lab's static files (weights, cards, data) with clear errors.

use crate::{Error, Result};

/// Fetches `url` and returns its bytes; a network failure or an HTTP error status is an error
/// naming the file.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>> {
    let response = gloo::net::http::Request::get(url)
        .send()
        .await
        .map_err(|e| Error::Data(format!("could not download {url}: {e}")))?;
    response_bytes(url, response).await
}

/// The body of a response, or an error if its status is not a success.
pub async fn response_bytes(url: &str, response: gloo::net::http::Response) -> Result<Vec<u8>> {
    if !response.ok() {
        return Err(Error::Data(format!(
            "could not download {url}: HTTP {} {}",
            response.status(),
            response.status_text()
        )));
    }
    response
        .binary()
        .await
        .map_err(|e| Error::Data(format!("could not read {url}: {e}")))
}

/// Fetches and parses a JSON file.
pub async fn fetch_json<T: serde::de::DeserializeOwned>(url: &str) -> Result<T> {
    let bytes = fetch_bytes(url).await?;
    serde_json::from_slice(&bytes).map_err(|e| Error::Data(format!("{url} is not valid: {e}")))
}
