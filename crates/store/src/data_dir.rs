//! Where picket keeps its data when nobody says otherwise.

use std::path::PathBuf;

/// Environment variable that overrides the data directory.
pub const DATA_DIR_ENV: &str = "PICKET_DATA_DIR";

/// The store's file name inside the data directory.
pub const DB_FILE_NAME: &str = "picket.db";

/// `$PICKET_DATA_DIR`, else `$XDG_DATA_HOME/picket`, else `~/.local/share/picket`. `None`
/// when none of them can be known (no HOME).
pub fn default_data_dir() -> Option<PathBuf> {
    let non_empty = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    if let Some(dir) = non_empty(DATA_DIR_ENV) {
        return Some(PathBuf::from(dir));
    }
    // The XDG spec says a relative value is invalid and must be ignored.
    if let Some(dir) = non_empty("XDG_DATA_HOME").map(PathBuf::from) {
        if dir.is_absolute() {
            return Some(dir.join("picket"));
        }
    }
    let home = non_empty("HOME")?;
    Some(PathBuf::from(home).join(".local/share/picket"))
}
