//! Listing a build context folder for FileSync: which entries to send, in
//! which order, and the `fsutil.types.Stat` of each.
//!
//! The receiver (fsutil as vendored by Docker Engine 26.1) rejects a
//! listing unless every folder comes before its entries and the entries of
//! a folder come in byte order of their names, so the walk sorts each
//! folder. A folder that does not match the patterns itself is still sent
//! when something below it is, right before that entry.

use std::collections::{BTreeMap, HashMap};
use std::ffi::OsString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use bollard_buildkit_proto::fsutil::types::Stat;

use super::patterns::{ParentMatches, PatternSet, clean_path};

/// Bits of Go's `os.FileMode`, which the `mode` field of `Stat` carries:
/// the permission bits plus these type and flag bits.
pub(crate) mod go_mode {
    pub const DIR: u32 = 1 << 31;
    pub const SYMLINK: u32 = 1 << 27;
    pub const DEVICE: u32 = 1 << 26;
    pub const NAMED_PIPE: u32 = 1 << 25;
    pub const SETUID: u32 = 1 << 23;
    pub const SETGID: u32 = 1 << 22;
    pub const CHAR_DEVICE: u32 = 1 << 21;
    pub const STICKY: u32 = 1 << 20;
}

/// Patterns that select the entries a transfer sends.
#[derive(Debug, Clone, Default)]
pub(crate) struct Filter {
    pub include: PatternSet,
    pub exclude: PatternSet,
}

/// One entry to send.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    pub stat: Stat,
    /// Path to read the content from. It is `Some` only for regular files,
    /// the entries whose content the receiver may request.
    pub content: Option<PathBuf>,
}

/// An error while listing, with the path it concerns.
#[derive(Debug, thiserror::Error)]
#[error("{}{message}", if path.is_empty() { String::new() } else { format!("{path}: ") })]
pub(crate) struct WalkError {
    /// Path relative to the served folder, or empty for the folder itself.
    pub path: String,
    pub message: String,
}

fn walk_error(path: &str, error: &std::io::Error) -> WalkError {
    WalkError {
        path: path.to_string(),
        message: error.to_string(),
    }
}

/// Lists the entries of `root` that `filter` selects, in the order the
/// receiver expects.
pub(crate) fn list_entries(root: &Path, filter: &Filter) -> Result<Vec<Entry>, WalkError> {
    let mut walk = Walk {
        filter,
        out: Vec::new(),
        pending: Vec::new(),
        hardlinks: HashMap::new(),
    };
    walk.folder(root, "", None, None, true)?;
    Ok(walk.out)
}

/// An entry that passed the filter, before it is sent.
#[derive(Clone)]
struct Candidate {
    entry: Entry,
    /// Device and inode of a non-folder with more than one link.
    link_key: Option<(u64, u64)>,
    utf8_name: bool,
}

/// A folder on the path to the current entry.
struct PendingFolder {
    candidate: Candidate,
    sent: bool,
}

struct Walk<'a> {
    filter: &'a Filter,
    out: Vec<Entry>,
    /// The folders above the current entry, outermost first.
    pending: Vec<PendingFolder>,
    /// First sent path of each (device, inode) that has more than one link.
    hardlinks: HashMap<(u64, u64), String>,
}

impl Walk<'_> {
    fn folder(
        &mut self,
        dir: &Path,
        relative: &str,
        include_parent: Option<&ParentMatches>,
        exclude_parent: Option<&ParentMatches>,
        selected: bool,
    ) -> Result<(), WalkError> {
        let names = match read_sorted(dir) {
            Ok(names) => names,
            // Go's sender also skips an unreadable folder that is not sent
            // itself.
            Err(error) if !selected && error.kind() == std::io::ErrorKind::PermissionDenied => return Ok(()),
            Err(error) => return Err(walk_error(relative, &error)),
        };

        for name in names {
            let full_path = dir.join(&name);
            let name_text = String::from_utf8_lossy(name.as_bytes()).into_owned();
            let path = if relative.is_empty() {
                name_text
            } else {
                format!("{relative}/{name_text}")
            };

            let metadata = match std::fs::symlink_metadata(&full_path) {
                Ok(metadata) => metadata,
                // Removed after `read_dir` listed it.
                Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
                Err(error) => return Err(walk_error(&path, &error)),
            };
            let is_dir = metadata.is_dir();

            let (included, include_info) = if self.filter.include.is_empty() {
                (true, ParentMatches::default())
            } else {
                self.filter.include.matches(&path, include_parent)
            };
            if !included && is_dir && !self.filter.include.may_include_below(&path) {
                continue;
            }
            if !included && !is_dir {
                continue;
            }

            let (excluded, exclude_info) = if self.filter.exclude.is_empty() {
                (false, ParentMatches::default())
            } else {
                self.filter.exclude.matches(&path, exclude_parent)
            };
            if excluded && (!is_dir || !self.filter.exclude.may_except_below(&path)) {
                continue;
            }

            // A socket cannot be stored in an image. Go's sender turns it
            // into an empty regular file, but leaving it out is clearer.
            if metadata.file_type().is_socket() {
                continue;
            }

            let candidate = Candidate {
                entry: make_entry(&full_path, &path, &metadata).map_err(|error| walk_error(&path, &error))?,
                link_key: (!is_dir && metadata.nlink() > 1).then(|| (metadata.dev(), metadata.ino())),
                utf8_name: std::str::from_utf8(name.as_bytes()).is_ok(),
            };
            let selected = included && !excluded;

            if !is_dir {
                self.send(candidate)?;
                continue;
            }

            self.pending.push(PendingFolder { candidate, sent: false });
            let mut descended = Ok(());
            if selected {
                descended = self.flush_pending();
            }
            if descended.is_ok() {
                descended = self.folder(&full_path, &path, Some(&include_info), Some(&exclude_info), selected);
            }
            self.pending.pop();
            descended?;
        }
        Ok(())
    }

    /// Sends `candidate` after the folders above it that were not sent yet.
    fn send(&mut self, candidate: Candidate) -> Result<(), WalkError> {
        self.flush_pending()?;
        let entry = self.link(candidate)?;
        self.out.push(entry);
        Ok(())
    }

    fn flush_pending(&mut self) -> Result<(), WalkError> {
        for index in 0..self.pending.len() {
            if !self.pending[index].sent {
                self.pending[index].sent = true;
                let entry = self.link(self.pending[index].candidate.clone())?;
                self.out.push(entry);
            }
        }
        Ok(())
    }

    /// Checks the name and, for the second and later paths of a file with
    /// several links, turns the entry into a hard link to the first sent
    /// path, as Go's sender does.
    fn link(&mut self, candidate: Candidate) -> Result<Entry, WalkError> {
        let mut entry = candidate.entry;
        if !candidate.utf8_name {
            return Err(WalkError {
                path: entry.stat.path,
                message: "the file name is not valid UTF-8, which BuildKit cannot receive; \
                          rename the file or exclude it"
                    .to_string(),
            });
        }
        if let Some(key) = candidate.link_key {
            match self.hardlinks.get(&key) {
                Some(first) => {
                    entry.stat.linkname = first.clone();
                    entry.stat.size = 0;
                }
                None => {
                    self.hardlinks.insert(key, entry.stat.path.clone());
                }
            }
        }
        Ok(entry)
    }
}

/// Returns the names in `dir` in byte order.
fn read_sorted(dir: &Path) -> std::io::Result<Vec<OsString>> {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        names.push(entry?.file_name());
    }
    names.sort_by(|left, right| left.as_bytes().cmp(right.as_bytes()));
    Ok(names)
}

/// Builds the `Stat` of the entry at `full_path`, sent as `path`.
fn make_entry(full_path: &Path, path: &str, metadata: &std::fs::Metadata) -> std::io::Result<Entry> {
    let file_type = metadata.file_type();
    let mut stat = Stat {
        path: path.to_string(),
        mode: go_file_mode(metadata.mode()),
        // The docker CLI and buildx send every context entry as owned by
        // root, so copied files get the same owners as with `docker build`.
        uid: 0,
        gid: 0,
        size: 0,
        mod_time: metadata
            .mtime()
            .saturating_mul(1_000_000_000)
            .saturating_add(metadata.mtime_nsec()),
        linkname: String::new(),
        devmajor: 0,
        devminor: 0,
        xattrs: Default::default(),
    };

    if !file_type.is_dir() {
        stat.size = i64::try_from(metadata.len()).unwrap_or(i64::MAX);
    }
    if file_type.is_symlink() {
        let target = std::fs::read_link(full_path)?;
        stat.linkname = String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned();
    }
    if file_type.is_block_device() || file_type.is_char_device() {
        let (major, minor) = split_device(metadata.rdev());
        stat.devmajor = major;
        stat.devminor = minor;
    }
    stat.xattrs = read_xattrs(full_path)?;

    let content = file_type.is_file().then(|| full_path.to_path_buf());
    Ok(Entry { stat, content })
}

/// Reads the extended attributes of `path` without following a symlink.
fn read_xattrs(path: &Path) -> std::io::Result<std::collections::HashMap<String, Vec<u8>>> {
    let mut attributes = std::collections::HashMap::new();
    let names = match xattr::list(path) {
        Ok(names) => names,
        Err(error) if error.raw_os_error() == Some(libc::ENOTSUP) => return Ok(attributes),
        Err(error) => return Err(error),
    };
    for name in names {
        let Ok(key) = name.into_string() else { continue };
        if let Ok(Some(value)) = xattr::get(path, &key) {
            attributes.insert(key, value);
        }
    }
    Ok(attributes)
}

/// Converts a Unix `st_mode` into Go's `os.FileMode` bits.
pub(crate) fn go_file_mode(unix_mode: u32) -> u32 {
    let mut mode = unix_mode & 0o777;
    mode |= match unix_mode & libc::S_IFMT {
        libc::S_IFDIR => go_mode::DIR,
        libc::S_IFLNK => go_mode::SYMLINK,
        libc::S_IFIFO => go_mode::NAMED_PIPE,
        libc::S_IFBLK => go_mode::DEVICE,
        libc::S_IFCHR => go_mode::DEVICE | go_mode::CHAR_DEVICE,
        _ => 0,
    };
    if unix_mode & libc::S_ISUID != 0 {
        mode |= go_mode::SETUID;
    }
    if unix_mode & libc::S_ISGID != 0 {
        mode |= go_mode::SETGID;
    }
    if unix_mode & libc::S_ISVTX != 0 {
        mode |= go_mode::STICKY;
    }
    mode
}

/// Splits a device number the way fsutil 2024-04 does, which keeps 12 bits
/// of the major and 20 bits of the minor number.
fn split_device(rdev: u64) -> (i64, i64) {
    let major = (rdev >> 8) & 0xfff;
    let minor = (rdev & 0xff) | ((rdev >> 12) & 0xfff00);
    (major as i64, minor as i64)
}

/// Resolves `follow_paths` (paths that may run through symlinks, as the
/// local source's `followpaths` attribute lists them) into the paths that
/// they name inside `root`, so that the transfer includes each symlink and
/// its target. Absolute targets are taken relative to `root`.
pub(crate) fn resolve_follow_paths(root: &Path, follow_paths: &[String]) -> Vec<String> {
    let mut resolved = BTreeMap::new();
    for path in follow_paths {
        follow(root, &clean_path(path.trim_start_matches('/')), &mut resolved, 0);
    }
    resolved.into_keys().collect()
}

/// Symlink hops after which `follow` stops, as a guard against link loops.
const MAX_SYMLINK_HOPS: usize = 32;

fn follow(root: &Path, path: &str, resolved: &mut BTreeMap<String, ()>, hops: usize) {
    if path == "." || path.is_empty() || path.starts_with("..") || hops > MAX_SYMLINK_HOPS {
        return;
    }
    let parts: Vec<&str> = path.split('/').collect();
    for end in 1..=parts.len() {
        let current = parts[..end].join("/");
        let Ok(target) = std::fs::read_link(root.join(&current)) else {
            continue;
        };
        resolved.insert(current.clone(), ());

        let target = String::from_utf8_lossy(target.as_os_str().as_bytes()).into_owned();
        let parent = current.rsplit_once('/').map_or("", |(parent, _)| parent);
        let joined = if target.starts_with('/') {
            target.trim_start_matches('/').to_string()
        } else if parent.is_empty() {
            target
        } else {
            format!("{parent}/{target}")
        };
        let rest = parts[end..].join("/");
        let next = if rest.is_empty() {
            joined
        } else {
            format!("{joined}/{rest}")
        };
        follow(root, &clean_path(&next), resolved, hops + 1);
        return;
    }
    resolved.insert(path.to_string(), ());
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn filter(include: &[&str], exclude: &[&str]) -> Filter {
        Filter {
            include: PatternSet::new(include).expect("valid include patterns"),
            exclude: PatternSet::new(exclude).expect("valid exclude patterns"),
        }
    }

    fn paths(entries: &[Entry]) -> Vec<&str> {
        entries.iter().map(|entry| entry.stat.path.as_str()).collect()
    }

    fn write(root: &Path, path: &str, content: &str) {
        let full = root.join(path);
        std::fs::create_dir_all(full.parent().expect("a file has a parent")).expect("create folders");
        std::fs::write(full, content).expect("write file");
    }

    #[test]
    fn walk_order_folders_first() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "a.txt", "1");
        write(dir.path(), "a/b.txt", "2");
        write(dir.path(), "B", "3");
        write(dir.path(), "a-b/c", "4");

        let entries = list_entries(dir.path(), &Filter::default()).expect("walk");
        assert_eq!(paths(&entries), ["B", "a", "a/b.txt", "a-b", "a-b/c", "a.txt"]);
    }

    #[test]
    fn walk_include_sends_parent_folders() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "src/app/main.go", "package main");
        write(dir.path(), "src/app/big.bin", "x");
        write(dir.path(), "node_modules/x/y.js", "y");

        let entries = list_entries(dir.path(), &filter(&["src/app/main.go"], &[])).expect("walk");
        assert_eq!(paths(&entries), ["src", "src/app", "src/app/main.go"]);
    }

    #[test]
    fn walk_include_folder_sends_contents() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "src/a.go", "a");
        write(dir.path(), "src/sub/b.go", "b");
        write(dir.path(), "other.txt", "c");

        let entries = list_entries(dir.path(), &filter(&["src"], &[])).expect("walk");
        assert_eq!(paths(&entries), ["src", "src/a.go", "src/sub", "src/sub/b.go"]);
    }

    #[test]
    fn walk_exclude_with_exception() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "build/out.o", "o");
        write(dir.path(), "build/keep.txt", "k");
        write(dir.path(), "main.c", "m");

        let entries = list_entries(dir.path(), &filter(&[], &["build", "!build/keep.txt"])).expect("walk");
        assert_eq!(paths(&entries), ["build", "build/keep.txt", "main.c"]);
    }

    #[test]
    fn walk_glob_include() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "cmd/tool/main.go", "t");
        write(dir.path(), "cmd/tool/README.md", "r");
        write(dir.path(), "go.mod", "m");

        let entries = list_entries(dir.path(), &filter(&["**/*.go", "go.mod"], &[])).expect("walk");
        assert_eq!(paths(&entries), ["cmd", "cmd/tool", "cmd/tool/main.go", "go.mod"]);
    }

    #[test]
    fn walk_stat_fields() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "run.sh", "#!/bin/sh\n");
        std::fs::set_permissions(
            dir.path().join("run.sh"),
            std::os::unix::fs::PermissionsExt::from_mode(0o755),
        )
        .expect("chmod");
        symlink("run.sh", dir.path().join("link")).expect("symlink");
        std::fs::create_dir(dir.path().join("d")).expect("mkdir");

        let entries = list_entries(dir.path(), &Filter::default()).expect("walk");
        let by_path: BTreeMap<&str, &Entry> = entries.iter().map(|entry| (entry.stat.path.as_str(), entry)).collect();

        let script = by_path["run.sh"];
        assert_eq!(script.stat.mode, 0o755);
        assert_eq!(script.stat.size, 10);
        assert!(script.content.is_some());
        assert!(
            script.stat.mod_time > 1_000_000_000_000_000_000,
            "mod_time is in nanoseconds"
        );

        let link = by_path["link"];
        assert_eq!(link.stat.mode & go_mode::SYMLINK, go_mode::SYMLINK);
        assert_eq!(link.stat.linkname, "run.sh");
        assert!(link.content.is_none());

        let folder = by_path["d"];
        assert_eq!(folder.stat.mode & go_mode::DIR, go_mode::DIR);
        assert_eq!(folder.stat.size, 0);
    }

    #[test]
    fn walk_sends_root_owner() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "owned.txt", "x");
        // Changing the owner needs root; as another user the file is the user's own.
        let _ = std::os::unix::fs::chown(dir.path().join("owned.txt"), Some(1234), Some(5678));

        let entries = list_entries(dir.path(), &Filter::default()).expect("walk");
        assert_eq!(entries[0].stat.path, "owned.txt");
        assert_eq!((entries[0].stat.uid, entries[0].stat.gid), (0, 0));
    }

    #[test]
    fn walk_hardlink_second_path() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "a", "same");
        std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).expect("hard link");

        let entries = list_entries(dir.path(), &Filter::default()).expect("walk");
        assert_eq!(entries[0].stat.linkname, "");
        assert_eq!(entries[1].stat.linkname, "a");
        assert_eq!(entries[1].stat.size, 0);
    }

    #[test]
    fn walk_hardlink_first_path_filtered() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "a", "same");
        std::fs::hard_link(dir.path().join("a"), dir.path().join("b")).expect("hard link");

        let entries = list_entries(dir.path(), &filter(&["b"], &[])).expect("walk");
        assert_eq!(paths(&entries), ["b"]);
        assert_eq!(entries[0].stat.linkname, "", "the first sent path carries the content");
    }

    #[test]
    fn walk_missing_root_error() {
        let dir = tempfile::tempdir().expect("temp dir");
        let error = list_entries(&dir.path().join("gone"), &Filter::default()).expect_err("no folder");
        assert_eq!(error.path, "");
        assert!(error.to_string().starts_with("No such file"), "{error}");
    }

    #[test]
    fn go_mode_bits() {
        assert_eq!(go_file_mode(libc::S_IFREG | 0o644), 0o644);
        assert_eq!(go_file_mode(libc::S_IFDIR | 0o755), go_mode::DIR | 0o755);
        assert_eq!(go_file_mode(libc::S_IFLNK | 0o777), go_mode::SYMLINK | 0o777);
        assert_eq!(
            go_file_mode(libc::S_IFCHR | 0o666),
            go_mode::DEVICE | go_mode::CHAR_DEVICE | 0o666
        );
        assert_eq!(
            go_file_mode(libc::S_IFREG | libc::S_ISUID | 0o755),
            go_mode::SETUID | 0o755
        );
        assert_eq!(
            go_file_mode(libc::S_IFDIR | libc::S_ISVTX | 0o777),
            go_mode::DIR | go_mode::STICKY | 0o777
        );
    }

    #[test]
    fn follow_paths_resolve_symlinks() {
        let dir = tempfile::tempdir().expect("temp dir");
        write(dir.path(), "real/Dockerfile", "FROM scratch");
        symlink("real/Dockerfile", dir.path().join("Dockerfile")).expect("symlink");
        symlink("/real", dir.path().join("abs")).expect("symlink");

        let resolved = resolve_follow_paths(dir.path(), &["Dockerfile".to_string(), "abs/Dockerfile".to_string()]);
        assert_eq!(resolved, ["Dockerfile", "abs", "real/Dockerfile"]);
    }
}
