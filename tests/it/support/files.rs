//! A static file server on 127.0.0.1: answers GET with the files of one directory (the action wrapper's
//! "release" downloads) and records every path asked for.

use std::path::{Component, Path, PathBuf};
use std::sync::{Arc, Mutex};

use hyper::{Request, Response, StatusCode};

use super::http::{self, Dropped};

pub struct FileServer {
    pub addr: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl FileServer {
    pub fn start(root: &Path) -> Self {
        let root: PathBuf = root.to_path_buf();
        let log = Arc::new(Mutex::new(Vec::new()));
        let seen = log.clone();
        let addr = http::serve(Arc::new(move |req: Request<hyper::body::Incoming>| {
            let path = req.uri().path().to_string();
            seen.lock().expect("log").push(path.clone());
            let relative = PathBuf::from(path.trim_start_matches('/'));
            let file = relative
                .components()
                .all(|c| matches!(c, Component::Normal(_)))
                .then(|| root.join(&relative));
            Box::pin(async move {
                let response = match file.and_then(|f| std::fs::read(f).ok()) {
                    Some(bytes) => Response::new(http::full(bytes)),
                    None => Response::builder()
                        .status(StatusCode::NOT_FOUND)
                        .body(http::full("not found"))
                        .expect("response"),
                };
                Ok::<_, Dropped>(response)
            })
        }));
        Self { addr, log }
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The paths requested so far, in order.
    pub fn requests(&self) -> Vec<String> {
        self.log.lock().expect("log").clone()
    }
}
