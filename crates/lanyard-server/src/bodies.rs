//! The bytes of `GET /connections/{name}`'s answers, each kept beside the catalog row it was made from
//! ([`ConnectionRead`]): while the catalog hands out that same row (nothing was committed since), the answer is the
//! same bytes, and making them again (the view, the wire type, JSON) was a third of the request's own time.

use std::collections::HashMap;
use std::sync::Mutex;

use axum::body::Bytes;
use lanyard_control::ConnectionRead;

/// At most this many answers are kept; past it the map is emptied and fills again with what is asked for.
const CAPACITY: usize = 4096;

/// Answers by the name they were asked by.
#[derive(Default)]
pub(crate) struct ConnectionBodies {
    answers: Mutex<HashMap<String, (ConnectionRead, Bytes)>>,
}

impl ConnectionBodies {
    /// The answer made from `read`'s very row, if kept.
    pub(crate) fn get(&self, name: &str, read: &ConnectionRead) -> Option<Bytes> {
        let answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        answers.get(name).filter(|(kept, _)| kept.same_row(read)).map(|(_, body)| body.clone())
    }

    /// Keeps `body`, made from `read`, as the answer for `name`.
    pub(crate) fn put(&self, name: &str, read: ConnectionRead, body: Bytes) {
        let mut answers = self.answers.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if answers.len() >= CAPACITY && !answers.contains_key(name) {
            answers.clear();
        }
        answers.insert(name.to_owned(), (read, body));
    }
}
