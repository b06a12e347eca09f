//! The inbox file itself: noticing that it was deleted or replaced under a
//! running receiver, and opening it read-only for tools.

use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::time::Duration;

use hookgate::store::StoreError;
use rusqlite::{Connection, OpenFlags};

use crate::SqliteInbox;

/// Which file the inbox opened (device and inode), to tell whether its path
/// still names it.
///
/// An open SQLite file that is unlinked (`rm inbox.sqlite3`) or replaced
/// (`mv other.db inbox.sqlite3`) goes on taking commits into a file that
/// nobody will open again: every event acknowledged from then on is lost at
/// the next restart. The writer checks before each batch, so that those
/// enqueues fail (the route answers 503) instead.
#[derive(Debug)]
pub(crate) struct FileIdentity {
    path: PathBuf,
    dev: u64,
    ino: u64,
    logged: bool,
}

impl FileIdentity {
    /// The file `path` names now; `None` where it cannot be read, and then
    /// nothing is checked.
    pub(crate) fn of(path: &Path) -> Option<Self> {
        // Absolute, so that a later change of working directory is no deletion.
        let path = std::fs::canonicalize(path).ok()?;
        let meta = std::fs::metadata(&path).ok()?;
        Some(Self {
            path,
            dev: meta.dev(),
            ino: meta.ino(),
            logged: false,
        })
    }

    /// Whether the path still names the opened file (one `stat`).
    pub(crate) fn still_there(&mut self) -> bool {
        let here = std::fs::metadata(&self.path)
            .is_ok_and(|m| m.dev() == self.dev && m.ino() == self.ino && m.nlink() > 0);
        if !here && !self.logged {
            self.logged = true;
            tracing::error!(
                path = %self.path.display(),
                "sqlite inbox file was deleted or replaced while open: refusing every write \
                 (deliveries get 503) until the receiver is restarted on an inbox file"
            );
        }
        here
    }
}

/// The `events` columns every inbox file has.
const EVENT_COLUMNS: [&str; 13] = [
    "id",
    "key",
    "scheme",
    "event_id",
    "event_type",
    "received_at",
    "body",
    "state",
    "attempts",
    "due_at",
    "token",
    "finished_at",
    "last_error",
];

/// Refuses a database that lacks the inbox's tables or columns.
fn check_is_inbox(conn: &Connection, path: &Path) -> Result<(), StoreError> {
    let not_inbox = |why: String| {
        StoreError(format!(
            "{} is not a hookgate inbox ({why}); nothing was changed",
            path.display()
        ))
    };
    let columns: Vec<String> = conn
        .prepare("SELECT name FROM pragma_table_info('events')")
        .and_then(|mut s| s.query_map([], |r| r.get(0))?.collect())
        .map_err(|e| not_inbox(e.to_string()))?;
    let missing: Vec<&str> = EVENT_COLUMNS
        .into_iter()
        .filter(|c| !columns.iter().any(|have| have == c))
        .collect();
    if columns.is_empty() {
        return Err(not_inbox("no `events` table".into()));
    }
    if !missing.is_empty() {
        return Err(not_inbox(format!("`events` lacks {}", missing.join(", "))));
    }
    let control: i64 = conn
        .query_row(
            "SELECT COUNT(*) FROM sqlite_master WHERE type = 'table' AND name = 'control'",
            [],
            |r| r.get(0),
        )
        .map_err(|e| not_inbox(e.to_string()))?;
    if control == 0 {
        return Err(not_inbox("no `control` table".into()));
    }
    Ok(())
}

impl SqliteInbox {
    /// Opens an existing inbox file for reading only (`stats`, `list`,
    /// `show`), as tools do: nothing in the file changes (no switch to WAL,
    /// no tables created), and a file that is not a hookgate inbox is
    /// refused with an error that says so. Writes through it fail.
    pub fn open_read_only(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref().to_owned();
        let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let conn = Connection::open_with_flags(&path, flags)
            .map_err(|e| StoreError(format!("{}: {e}", path.display())))?;
        conn.busy_timeout(Duration::from_secs(5))
            .map_err(crate::store_error)?;
        check_is_inbox(&conn, &path)?;
        Self::start(conn, path, false, None)
    }
}
