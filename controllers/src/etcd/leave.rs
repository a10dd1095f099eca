//! What is left of a member that left the cluster: nothing. Its data
//! directory goes, so joining again starts a new member.

use crate::ControllerError;
use std::path::Path;

pub fn forget_data(dir: &Path) -> Result<(), ControllerError> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {
            tracing::info!(dir = %dir.display(), "removed the data of the member that left");
            Ok(())
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(ControllerError::io("removing", dir)(e)),
    }
}
