//! Stage lookups and `from=` chains. A stage inherits the filesystem, env,
//! workdir, libc and shell of the stage it is based on, so several checks
//! need a value computed along the chain down to its root image. The
//! chains are walked once for all stages, and a cycle or an unknown stage
//! name ends a chain at [`Root::Unknown`] instead of looping.

use std::collections::{BTreeMap, BTreeSet};

use super::unix_path;
use crate::diag::Span;
use crate::model::{Artifact, Base, CopySource, Spanned, Spec, Stage};

/// The bottom of a `from=` chain.
#[derive(Debug, Clone, Copy)]
pub enum Root<'a> {
    Image(&'a Spanned<String>),
    Scratch(Span),
    /// An unknown stage name or a cycle, already reported by other checks.
    Unknown,
}

#[derive(Debug, Clone, Copy)]
enum Link<'a> {
    Stage(usize),
    Root(Root<'a>),
}

/// Name index and base links of a spec's stages.
pub struct Stages<'a> {
    pub spec: &'a Spec,
    by_name: BTreeMap<&'a str, usize>,
    links: Vec<Link<'a>>,
    roots: Vec<Root<'a>>,
}

impl<'a> Stages<'a> {
    pub fn new(spec: &'a Spec) -> Stages<'a> {
        // With duplicate names the first stage wins, as in the stage graph.
        let mut by_name = BTreeMap::new();
        for (index, stage) in spec.stages.iter().enumerate() {
            by_name.entry(stage.name.as_str()).or_insert(index);
        }

        let links = spec
            .stages
            .iter()
            .map(|stage| match &stage.base {
                Base::Image(reference) => Link::Root(Root::Image(reference)),
                Base::Scratch(span) => Link::Root(Root::Scratch(*span)),
                Base::Stage(name) => match by_name.get(name.as_str()) {
                    Some(&index) => Link::Stage(index),
                    None => Link::Root(Root::Unknown),
                },
            })
            .collect();

        let mut stages = Stages {
            spec,
            by_name,
            links,
            roots: Vec::new(),
        };
        stages.roots = stages.inherit(|root| *root, |_, root| root);
        stages
    }

    pub fn count(&self) -> usize {
        self.spec.stages.len()
    }

    pub fn stage(&self, index: usize) -> &'a Stage {
        &self.spec.stages[index]
    }

    /// Returns the index of the stage called `name`, compared exactly.
    pub fn named(&self, name: &str) -> Option<usize> {
        self.by_name.get(name).copied()
    }

    pub fn names(&self) -> impl Iterator<Item = &'a str> + '_ {
        self.spec.stages.iter().map(|stage| stage.name.as_str())
    }

    /// Returns the stage that `index` is based on, when it is a known stage.
    pub fn base(&self, index: usize) -> Option<usize> {
        match self.links[index] {
            Link::Stage(base) => Some(base),
            Link::Root(_) => None,
        }
    }

    /// Returns the image, scratch or unknown stage at the bottom of the chain.
    pub fn root(&self, index: usize) -> Root<'a> {
        self.roots[index]
    }

    /// Returns the stage itself, then the stage it is based on, and so on,
    /// stopping before a stage repeats.
    pub fn chain(&self, index: usize) -> Vec<usize> {
        let mut chain = vec![index];
        let mut seen = BTreeSet::from([index]);
        let mut current = index;
        while let Some(base) = self.base(current) {
            if !seen.insert(base) {
                break;
            }
            chain.push(base);
            current = base;
        }
        chain
    }

    /// Computes a value for every stage from the value of its base:
    /// `value[i] = apply(i, value[base of i])`, where the value below the
    /// last stage of a chain is `from_root(root)`. Each stage is visited
    /// once, bases first.
    pub fn inherit<T: Clone>(
        &self,
        from_root: impl Fn(&Root<'a>) -> T,
        mut apply: impl FnMut(usize, T) -> T,
    ) -> Vec<T> {
        let count = self.count();
        let mut values: Vec<Option<T>> = vec![None; count];
        let mut on_path = vec![false; count];

        for start in 0..count {
            let mut path = Vec::new();
            let mut current = start;
            let mut inherited = loop {
                if let Some(value) = &values[current] {
                    break value.clone();
                }
                if on_path[current] {
                    break from_root(&Root::Unknown);
                }
                on_path[current] = true;
                path.push(current);
                match self.links[current] {
                    Link::Stage(base) => current = base,
                    Link::Root(root) => break from_root(&root),
                }
            };

            for &index in path.iter().rev() {
                inherited = apply(index, inherited);
                values[index] = Some(inherited.clone());
                on_path[index] = false;
            }
        }

        values
            .into_iter()
            .map(|value| value.expect("inherit assigns every stage on its path"))
            .collect()
    }

    /// Returns the artifact a copy takes its files from, with the index of
    /// the stage that declares it: the named artifact of the `from=` stage,
    /// or for a raw stage path the artifact of that stage or of its bases
    /// that contains the path.
    pub fn copied_artifact(&self, source: &CopySource) -> Option<(usize, &'a Artifact)> {
        match source {
            CopySource::Context(_) => None,
            CopySource::Artifact { stage, artifact } => {
                let producer = self.named(stage.as_str())?;
                let found = self
                    .stage(producer)
                    .artifacts
                    .iter()
                    .find(|a| a.name.value == artifact.value)?;
                Some((producer, found))
            }
            CopySource::StagePath { stage, path } => {
                let producer = self.named(stage.as_str())?;
                self.artifact_containing(producer, &path.value)
            }
        }
    }

    /// Returns the artifact of `stage` or of a stage in its chain whose path
    /// is `path` or contains it, with the index of the declaring stage.
    pub fn artifact_containing(&self, stage: usize, path: &str) -> Option<(usize, &'a Artifact)> {
        if !unix_path::is_absolute(path) {
            return None;
        }
        let path = unix_path::normalize(path);
        self.chain(stage).into_iter().find_map(|index| {
            self.stage(index)
                .artifacts
                .iter()
                .filter(|artifact| unix_path::is_absolute(&artifact.path.value))
                .find(|artifact| unix_path::is_within(&path, &unix_path::normalize(&artifact.path.value)))
                .map(|artifact| (index, artifact))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diag::Diagnostics;
    use crate::syntax::parse;

    fn spec(source: &str) -> Spec {
        let mut diagnostics = Diagnostics::default();
        crate::resolve::resolve(&parse(source).expect("valid KDL"), &mut diagnostics)
    }

    #[test]
    fn chain_follows_bases_and_stops_on_cycle() {
        let spec = spec(
            r#"
            stage "a" from="alpine:3"
            stage "b" from="a"
            stage "c" from="b"
            stage "x" from="y"
            stage "y" from="x"
            "#,
        );
        let stages = Stages::new(&spec);
        assert_eq!(stages.chain(2), [2, 1, 0]);
        assert!(matches!(stages.root(2), Root::Image(reference) if reference.value == "alpine:3"));
        assert_eq!(stages.chain(3), [3, 4]);
        assert!(matches!(stages.root(3), Root::Unknown));
    }

    #[test]
    fn inherit_counts_depth_in_one_pass() {
        let mut source = String::from("stage \"s0\" from=\"scratch\"\n");
        for i in 1..5_000 {
            source.push_str(&format!("stage \"s{i}\" from=\"s{}\"\n", i - 1));
        }
        let spec = spec(&source);
        let stages = Stages::new(&spec);
        let depths = stages.inherit(|_| 0usize, |_, depth| depth + 1);
        assert_eq!(depths[4_999], 5_000);
    }

    #[test]
    fn raw_path_finds_artifact_in_base_stage() {
        let spec = spec(
            r#"
            stage "build" from="golang:1.19" { artifact "out" path="/out/" kind="dir" }
            stage "test" from="build"
            "#,
        );
        let stages = Stages::new(&spec);
        let (declaring, artifact) = stages.artifact_containing(1, "/out/bin/app").expect("inside /out");
        assert_eq!((declaring, artifact.name.as_str()), (0, "out"));
        assert!(stages.artifact_containing(1, "/outside").is_none());
    }
}
