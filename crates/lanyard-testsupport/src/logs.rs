//! [`LogCapture`]: what a test's log subscriber wrote, for the tests that check log lines.

use std::sync::{Arc, Mutex};

/// A log destination shared with the test: every clone appends to the same buffer. Give a `tracing-subscriber`
/// `move || capture.clone()` as its writer, then read [`LogCapture::text`].
#[derive(Debug, Clone, Default)]
pub struct LogCapture(Arc<Mutex<Vec<u8>>>);

impl LogCapture {
    /// Everything written so far (panics if it is not UTF-8: log lines always are).
    pub fn text(&self) -> String {
        let bytes = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).clone();
        String::from_utf8(bytes).expect("the captured log lines are UTF-8")
    }
}

impl std::io::Write for LogCapture {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner).extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}
