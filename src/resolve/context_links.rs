//! SC0303 for context inputs that reach their files through a symbolic link
//! pointing outside the build context. The host follows such a link, so the
//! input seems to exist. The builder receives the context with its links as
//! links and resolves them inside the context, where an absolute target or
//! one above the context root does not exist, so the copy fails with "not found".

use std::collections::VecDeque;
use std::fs;
use std::path::{Component, Path, PathBuf};

use crate::diag::{Code, Diagnostic};
use crate::model::Spanned;

/// Maximum number of links followed for one path, as Linux's `MAXSYMLINKS`.
const MAX_LINK_HOPS: usize = 40;

/// A symbolic link whose target the builder cannot reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutsideLink {
    /// The link, relative to the context directory.
    pub link: String,
    /// The link's target as stored on disk.
    pub target: PathBuf,
}

/// Reports `input` when one of its matches, given relative to
/// `context_dir`, goes through a link that points outside the context.
pub fn check_input(input: &Spanned<String>, context_dir: &Path, matches: &[String]) -> Option<Diagnostic> {
    let outside = matches
        .iter()
        .find_map(|matched| link_outside_context(context_dir, matched))?;
    let target = outside.target.display();
    let label = if outside.target.is_absolute() {
        format!("`{}` links to the absolute path `{target}`", outside.link)
    } else {
        format!("`{}` links to `{target}`, above the context root", outside.link)
    };
    Some(
        Diagnostic::new(
            Code::ContextEscape,
            format!(
                "context input `{}` goes through symbolic link `{}`, which points outside the build context",
                input.value, outside.link
            ),
        )
        .label(input.span, label)
        .help(
            "the builder resolves symbolic links inside the build context, where this target does not exist; copy \
             the file into the context, or make the link relative to a path inside the context",
        ),
    )
}

/// Resolves `matched` (relative to `context_dir`) one component at a time,
/// the way the builder does inside the context. Returns the first link with
/// an absolute target, or a relative one that climbs above the context root.
pub fn link_outside_context(context_dir: &Path, matched: &str) -> Option<OutsideLink> {
    // Each pending component remembers the link whose target it came
    // from, so that a `..` above the root is blamed on that link.
    let mut pending: VecDeque<(String, Option<usize>)> = components(Path::new(matched))
        .map(|component| (component, None))
        .collect();
    let mut resolved: Vec<String> = Vec::new();
    let mut links: Vec<OutsideLink> = Vec::new();

    while let Some((component, origin)) = pending.pop_front() {
        if component == ".." {
            if resolved.pop().is_none() {
                // A `..` of the input itself is reported as a path that
                // leaves the context, by the input checks.
                return origin.map(|index| links[index].clone());
            }
            continue;
        }
        resolved.push(component);

        let path = context_dir.join(resolved.join("/"));
        let is_link = fs::symlink_metadata(&path).is_ok_and(|metadata| metadata.file_type().is_symlink());
        if !is_link {
            continue;
        }
        if links.len() == MAX_LINK_HOPS {
            return None;
        }
        let target = fs::read_link(&path).ok()?;
        let link = OutsideLink {
            link: resolved.join("/"),
            target: target.clone(),
        };
        if target.is_absolute() {
            return Some(link);
        }
        resolved.pop();
        let index = links.len();
        links.push(link);
        for component in components(&target).collect::<Vec<_>>().into_iter().rev() {
            pending.push_front((component, Some(index)));
        }
    }
    None
}

/// Returns the normal and `..` components of a path, as strings.
fn components(path: &Path) -> impl Iterator<Item = String> + '_ {
    path.components().filter_map(|component| match component {
        Component::Normal(name) => Some(name.to_string_lossy().into_owned()),
        Component::ParentDir => Some("..".to_string()),
        Component::RootDir | Component::CurDir | Component::Prefix(_) => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn context() -> tempfile::TempDir {
        let dir = tempfile::tempdir().expect("temp dir");
        let root = dir.path();
        fs::create_dir_all(root.join("ctx/sub")).expect("create dirs");
        fs::write(root.join("ctx/sub/file"), "x").expect("write file");
        fs::write(root.join("outside"), "x").expect("write file");
        symlink("/etc", root.join("ctx/etclink")).expect("link");
        symlink("../outside", root.join("ctx/up")).expect("link");
        symlink("sub", root.join("ctx/inside")).expect("link");
        symlink("inside/../../outside", root.join("ctx/twisty")).expect("link");
        symlink("loop", root.join("ctx/loop")).expect("link");
        dir
    }

    #[test]
    fn outside_link_table() {
        let dir = context();
        let ctx = dir.path().join("ctx");
        let cases: &[(&str, Option<&str>)] = &[
            ("sub/file", None),
            ("inside/file", None),
            ("etclink/hostname", Some("etclink")),
            ("up", Some("up")),
            ("twisty", Some("twisty")),
            ("missing/file", None),
            ("loop", None),
        ];
        for (matched, expected) in cases {
            let found = link_outside_context(&ctx, matched);
            assert_eq!(found.as_ref().map(|link| link.link.as_str()), *expected, "{matched}");
        }
    }

    #[test]
    fn outside_link_is_sc0303() {
        let dir = context();
        let ctx = dir.path().join("ctx");
        let input = Spanned::new("etclink/hostname".to_string(), crate::diag::Span::new(0, 18));
        let diagnostic = check_input(&input, &ctx, &["etclink/hostname".to_string()]).expect("reported");
        assert_eq!(diagnostic.code, Code::ContextEscape);
        assert!(diagnostic.labels[0].text.contains("`/etc`"), "{diagnostic:?}");
        assert!(check_input(&input, &ctx, &["sub/file".to_string()]).is_none());
    }
}
