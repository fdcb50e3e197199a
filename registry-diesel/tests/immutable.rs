//! A SQLite file that can no longer be written (made immutable with `chattr +i`, as a full or
//! failing disk also behaves) fails writes with an error; it never kills the process.
//!
//! Making a file immutable needs root and a file system with attributes; the test says
//! `SKIPPED` and passes where `chattr` is missing or refused. It always clears the attribute
//! again, also when it fails, so the temporary directory can be removed.

#![cfg(feature = "sqlite")]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::{TestDb, valid};
use registry_core::{InstanceStorage, ModelInstance, StorageError};
use registry_diesel::Backend;

/// Files made immutable, made mutable again when dropped.
struct Immutable(Vec<PathBuf>);

impl Immutable {
    /// Makes every existing file of `paths` immutable, or says why it could not.
    fn set(paths: &[PathBuf]) -> Result<Self, String> {
        let mut done = Self(Vec::new());
        for path in paths.iter().filter(|path| path.exists()) {
            chattr("+i", path)?;
            done.0.push(path.clone());
        }
        Ok(done)
    }
}

impl Drop for Immutable {
    fn drop(&mut self) {
        for path in &self.0 {
            if let Err(error) = chattr("-i", path) {
                eprintln!("could not make {} mutable again: {error}", path.display());
            }
        }
    }
}

fn chattr(flag: &str, path: &Path) -> Result<(), String> {
    let output = Command::new("chattr")
        .arg(flag)
        .arg(path)
        .output()
        .map_err(|error| format!("chattr: {error}"))?;
    if output.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&output.stderr).trim().to_owned())
    }
}

/// The database file and its `-wal` and `-shm` files.
fn database_files(db: &TestDb) -> [PathBuf; 3] {
    let path = PathBuf::from(db.url.strip_prefix("sqlite://").unwrap());
    ["", "-wal", "-shm"].map(|suffix| {
        let mut name = path.clone().into_os_string();
        name.push(suffix);
        PathBuf::from(name)
    })
}

/// A storage with some rows, so the write-ahead log and its index hold pages.
fn filled(db: &TestDb) -> registry_diesel::DieselStorage {
    let storage = db.storage();
    for port in 1..=200 {
        let worker = ModelInstance::new("m@llm", "h", port);
        storage
            .heartbeat(&valid(&worker), chrono::Utc::now())
            .unwrap();
    }
    storage
}

#[test]
fn writes_to_an_immutable_database_fail_without_killing_the_process() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let storage = filled(&db);
    let immutable = match Immutable::set(&database_files(&db)) {
        Ok(immutable) => immutable,
        Err(reason) => {
            eprintln!("SKIPPED: cannot make the database immutable: {reason}");
            return;
        }
    };
    // Many writes, new rows and updates, so the log would have to grow past what is mapped.
    let mut failures = 0;
    for round in 0..5 {
        for port in 1..=1_000 {
            let worker = ModelInstance::new(format!("m{round}@llm"), "h", port);
            match storage.register(&valid(&worker), chrono::Utc::now()) {
                Ok(()) => {}
                Err(error) => {
                    assert!(matches!(error, StorageError::Unavailable(_)), "{error:?}");
                    failures += 1;
                }
            }
        }
    }
    assert_eq!(failures, 5_000, "writes to an immutable database succeeded");
    assert!(matches!(
        storage.check_ready(),
        Err(StorageError::Unavailable(_))
    ));
    assert!(matches!(
        storage.instances(None, false),
        Err(StorageError::Unavailable(_))
    ));
    drop(immutable);
    // Writable again: the same storage writes.
    let mut recovered = false;
    for _ in 0..50 {
        if storage
            .heartbeat(
                &valid(&ModelInstance::new("m@llm", "h", 1)),
                chrono::Utc::now(),
            )
            .is_ok()
        {
            recovered = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    assert!(
        recovered,
        "no write succeeded once the files were writable again"
    );
}

#[test]
fn a_storage_closed_while_its_files_are_immutable_does_not_kill_the_process() {
    let db = TestDb::new(Backend::Sqlite).unwrap();
    let storage = filled(&db);
    let immutable = match Immutable::set(&database_files(&db)) {
        Ok(immutable) => immutable,
        Err(reason) => {
            eprintln!("SKIPPED: cannot make the database immutable: {reason}");
            return;
        }
    };
    drop(storage);
    drop(immutable);
    // The file is intact: a new storage reads every row.
    let reopened = db.storage();
    assert_eq!(reopened.instances(None, false).unwrap().len(), 200);
}
