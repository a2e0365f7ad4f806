//! What a mutating command did to one object. One vocabulary for every report (`osd prepare`,
//! `osd activate`, `disks zap`, `pools init`, `cinder type ensure`, `openstack export`,
//! `cluster bootstrap`), the same words in JSON and in tables, and one rule for whether an
//! outcome changed anything (a deployer's `changed`).

use serde::{Deserialize, Serialize};

/// One object's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// Made now.
    Created,
    /// Existed and was brought to what was asked.
    Updated,
    /// A daemon or OSD was started.
    Started,
    /// A daemon was stopped (still configured to start again).
    Stopped,
    /// A disk's partitions and signatures were removed.
    Zapped,
    /// An OSD was taken out of the cluster (purged, or destroyed for a replacement).
    Removed,
    /// Already as asked: nothing changed.
    Unchanged,
    /// Dry run: would be made.
    WouldCreate,
    /// Dry run: would be updated.
    WouldUpdate,
    /// Dry run: would be started.
    WouldStart,
    /// Dry run: would be zapped.
    WouldZap,
    /// Dry run: would be removed.
    WouldRemove,
    /// Not this command's to touch (an OSD of another cluster).
    Skipped,
    /// A guard or a usage rule refused it; nothing was written to it.
    Refused,
    /// Started and failed part-way (the next run recovers it).
    Failed,
}

impl Action {
    /// Its word in JSON and tables.
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Created => "created",
            Action::Updated => "updated",
            Action::Started => "started",
            Action::Stopped => "stopped",
            Action::Zapped => "zapped",
            Action::Removed => "removed",
            Action::Unchanged => "unchanged",
            Action::WouldCreate => "would_create",
            Action::WouldUpdate => "would_update",
            Action::WouldStart => "would_start",
            Action::WouldZap => "would_zap",
            Action::WouldRemove => "would_remove",
            Action::Skipped => "skipped",
            Action::Refused => "refused",
            Action::Failed => "failed",
        }
    }

    /// Whether this outcome changed something on the host or the cluster.
    pub fn changed(self) -> bool {
        matches!(
            self,
            Action::Created
                | Action::Updated
                | Action::Started
                | Action::Stopped
                | Action::Zapped
                | Action::Removed
        )
    }

    /// The outcome of an object that exists (or not) and differs (or not) from what was
    /// asked, now or on a dry run.
    pub fn of_ensure(existed: bool, differs: bool, dry_run: bool) -> Action {
        match (existed, differs, dry_run) {
            (true, false, _) => Action::Unchanged,
            (false, _, false) => Action::Created,
            (false, _, true) => Action::WouldCreate,
            (true, true, false) => Action::Updated,
            (true, true, true) => Action::WouldUpdate,
        }
    }
}

impl std::fmt::Display for Action {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_words_are_the_table_words_and_only_real_changes_count() {
        for a in [
            Action::Created,
            Action::Updated,
            Action::Started,
            Action::Stopped,
            Action::Zapped,
            Action::Removed,
            Action::Unchanged,
            Action::WouldCreate,
            Action::WouldUpdate,
            Action::WouldStart,
            Action::WouldZap,
            Action::WouldRemove,
            Action::Skipped,
            Action::Refused,
            Action::Failed,
        ] {
            let json = serde_json::to_value(a).unwrap();
            assert_eq!(json, serde_json::json!(a.as_str()));
            let back: Action = serde_json::from_value(json).unwrap();
            assert_eq!(back, a);
            let would = a.as_str().starts_with("would_");
            assert!(!(would && a.changed()), "a dry run changes nothing: {a}");
        }
        assert_eq!(Action::of_ensure(true, false, false), Action::Unchanged);
        assert_eq!(Action::of_ensure(false, true, true), Action::WouldCreate);
        assert_eq!(Action::of_ensure(true, true, false), Action::Updated);
    }
}
