//! Files the page keeps in this browser's own storage (IndexedDB), so that they survive a reload:
//! the MRI lab's upload. Nothing here is ever sent over the network; another browser or computer
//! never sees it.
//!
//! One database, [`DATABASE`], with one object store, [`STORE`], holding records under fixed
//! keys (such as [`MRI_UPLOAD`]); saving under a key replaces what was there. A record is a plain
//! object `{ name, type, saved, bytes }` (`bytes` a `Uint8Array`), readable in the browser's
//! developer tools.
//!
//! Every failure is an [`Error::Storage`] that says what went wrong, never a panic: private
//! browsing, a full disk or a browser without IndexedDB leave the lab working for this page view.

use crate::{Error, Result};
use js_sys::{Object, Promise, Reflect, Uint8Array};
use wasm_bindgen::closure::Closure;
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransaction, IdbTransactionMode};

/// The lab's database in this browser.
pub const DATABASE: &str = "barriers-lab";
/// The object store of uploaded files.
pub const STORE: &str = "uploads";
/// The key of the MRI lab's upload (the newest replaces the older).
pub const MRI_UPLOAD: &str = "mri-upload";
/// The database's schema version (1: the store [`STORE`]).
const VERSION: u32 = 1;

/// A file as the user chose it: its name, MIME type, when it was kept and its bytes.
#[derive(Clone, Debug, PartialEq)]
pub struct StoredFile {
    pub name: String,
    /// The MIME type the browser gave (`image/png`, …; may be empty).
    pub mime: String,
    /// When it was kept, milliseconds since 1970 (`Date.now()`).
    pub saved_ms: f64,
    pub bytes: Vec<u8>,
}

impl StoredFile {
    /// The file as a `data:` URL (base64), as the compute worker's upload job takes it.
    pub fn data_url(&self) -> String {
        use base64::Engine;
        let mime = if self.mime.is_empty() {
            "application/octet-stream"
        } else {
            &self.mime
        };
        format!(
            "data:{mime};base64,{}",
            base64::engine::general_purpose::STANDARD.encode(&self.bytes)
        )
    }

    fn to_record(&self) -> Result<JsValue> {
        let record = Object::new();
        let set = |field: &str, value: JsValue| {
            Reflect::set(&record, &field.into(), &value)
                .map(|_| ())
                .map_err(|e| Error::Storage(format!("cannot build the record: {}", js_text(&e))))
        };
        set("name", self.name.as_str().into())?;
        set("type", self.mime.as_str().into())?;
        set("saved", self.saved_ms.into())?;
        set("bytes", Uint8Array::from(self.bytes.as_slice()).into())?;
        Ok(record.into())
    }

    fn from_record(record: &JsValue) -> Result<Self> {
        let field = |name: &str| {
            Reflect::get(record, &name.into()).map_err(|e| {
                Error::Storage(format!(
                    "the kept file has no readable '{name}': {}",
                    js_text(&e)
                ))
            })
        };
        let text = |name: &str| -> Result<String> {
            field(name)?
                .as_string()
                .ok_or_else(|| Error::Storage(format!("the kept file's '{name}' is not text")))
        };
        let bytes = field("bytes")?;
        if !(bytes.is_instance_of::<Uint8Array>() || bytes.is_instance_of::<js_sys::ArrayBuffer>())
        {
            return Err(Error::Storage("the kept file's bytes are missing".into()));
        }
        Ok(Self {
            name: text("name")?,
            mime: text("type")?,
            saved_ms: field("saved")?.as_f64().unwrap_or(0.0),
            bytes: Uint8Array::new(&bytes).to_vec(),
        })
    }
}

/// Keeps `file` under `key`, replacing what was there; returns once the browser has written it.
pub async fn save(key: &str, file: &StoredFile) -> Result<()> {
    let record = file.to_record()?;
    let db = open().await?;
    let outcome = async {
        let tx = transaction(&db, IdbTransactionMode::Readwrite)?;
        store(&tx)?
            .put_with_key(&record, &key.into())
            .map_err(|e| Error::Storage(format!("cannot write {key}: {}", js_text(&e))))?;
        committed(&tx).await
    }
    .await;
    db.close();
    outcome
}

/// The file kept under `key`, if any.
pub async fn load(key: &str) -> Result<Option<StoredFile>> {
    let db = open().await?;
    let outcome = async {
        let tx = transaction(&db, IdbTransactionMode::Readonly)?;
        let request = store(&tx)?
            .get(&key.into())
            .map_err(|e| Error::Storage(format!("cannot read {key}: {}", js_text(&e))))?;
        let record = settled(&request).await?;
        if record.is_undefined() || record.is_null() {
            Ok(None)
        } else {
            StoredFile::from_record(&record).map(Some)
        }
    }
    .await;
    db.close();
    outcome
}

/// Forgets the file kept under `key` (nothing happens if there is none).
pub async fn remove(key: &str) -> Result<()> {
    let db = open().await?;
    let outcome = async {
        let tx = transaction(&db, IdbTransactionMode::Readwrite)?;
        store(&tx)?
            .delete(&key.into())
            .map_err(|e| Error::Storage(format!("cannot remove {key}: {}", js_text(&e))))?;
        committed(&tx).await
    }
    .await;
    db.close();
    outcome
}

/// Opens [`DATABASE`], creating [`STORE`] the first time.
async fn open() -> Result<IdbDatabase> {
    let factory = web_sys::window()
        .ok_or_else(|| Error::Storage("there is no browser window here".into()))?
        .indexed_db()
        .map_err(|e| Error::Storage(format!("IndexedDB is not allowed here: {}", js_text(&e))))?
        .ok_or_else(|| Error::Storage("this browser offers no IndexedDB".into()))?;
    let request = factory
        .open_with_u32(DATABASE, VERSION)
        .map_err(|e| Error::Storage(format!("cannot open the database: {}", js_text(&e))))?;
    // The first open (or a newer VERSION) creates the store; a failure aborts the open.
    let upgrade = {
        let request = request.clone();
        Closure::<dyn FnMut(web_sys::Event)>::new(move |_: web_sys::Event| {
            let created = request
                .result()
                .and_then(|db| db.dyn_into::<IdbDatabase>())
                .and_then(|db| {
                    if db.object_store_names().contains(STORE) {
                        Ok(())
                    } else {
                        db.create_object_store(STORE).map(|_| ())
                    }
                });
            if created.is_err() {
                if let Some(tx) = request.transaction() {
                    // Aborting the upgrade makes the open request fail with an AbortError.
                    let _ = tx.abort();
                }
            }
        })
    };
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let opened = settled(&request).await;
    request.set_onupgradeneeded(None);
    drop(upgrade);
    opened?
        .dyn_into::<IdbDatabase>()
        .map_err(|_| Error::Storage("opening the database gave no database".into()))
}

fn transaction(db: &IdbDatabase, mode: IdbTransactionMode) -> Result<IdbTransaction> {
    db.transaction_with_str_and_mode(STORE, mode)
        .map_err(|e| Error::Storage(format!("cannot start a transaction: {}", js_text(&e))))
}

fn store(tx: &IdbTransaction) -> Result<web_sys::IdbObjectStore> {
    tx.object_store(STORE)
        .map_err(|e| Error::Storage(format!("the store '{STORE}' is missing: {}", js_text(&e))))
}

/// Waits for `request` to succeed (its result) or fail (its error).
async fn settled(request: &IdbRequest) -> Result<JsValue> {
    // The browser fires the events in a later task, so handlers set now see them.
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    request.set_onsuccess(None);
    request.set_onerror(None);
    match outcome {
        Ok(_) => request
            .result()
            .map_err(|e| Error::Storage(format!("no result: {}", js_text(&e)))),
        Err(_) => Err(Error::Storage(match request.error() {
            Ok(Some(e)) => js_text(&e.into()),
            _ => "the request failed".into(),
        })),
    }
}

/// Waits until `tx` has committed (its writes are on disk) or has failed.
async fn committed(tx: &IdbTransaction) -> Result<()> {
    let promise = Promise::new(&mut |resolve, reject| {
        tx.set_oncomplete(Some(&resolve));
        tx.set_onerror(Some(&reject));
        tx.set_onabort(Some(&reject));
    });
    let outcome = JsFuture::from(promise).await;
    tx.set_oncomplete(None);
    tx.set_onerror(None);
    tx.set_onabort(None);
    match outcome {
        Ok(_) => Ok(()),
        Err(event) => {
            // An error event comes from the failed request; an abort names its cause on `tx`.
            let from_request = event
                .dyn_ref::<web_sys::Event>()
                .and_then(|e| e.target())
                .and_then(|t| t.dyn_into::<IdbRequest>().ok())
                .and_then(|r| r.error().ok().flatten());
            let cause = from_request.or_else(|| tx.error());
            Err(Error::Storage(match cause {
                Some(e) => js_text(&e.into()),
                None => "the browser did not keep the change".into(),
            }))
        }
    }
}

/// A JavaScript error as text: `Name: message` for DOM exceptions and errors.
fn js_text(value: &JsValue) -> String {
    if let Some(e) = value.dyn_ref::<web_sys::DomException>() {
        format!("{}: {}", e.name(), e.message())
    } else if let Some(e) = value.dyn_ref::<js_sys::Error>() {
        format!("{}: {}", String::from(e.name()), String::from(e.message()))
    } else {
        value.as_string().unwrap_or_else(|| format!("{value:?}"))
    }
}
