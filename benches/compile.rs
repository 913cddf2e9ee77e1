//! Compile-time benchmarks: spec text to diagnostics, to a Dockerfile, and
//! to LLB, for the examples and for generated chains of 10 to 10,000 stages.
//! Run with `cargo bench --bench compile`; docs/benchmarks.md records results.
//! The `parse` group compares stagec's KDL parser with the `kdl` crate.

use std::collections::BTreeMap;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use stagec::dockerfile::{DockerfileOptions, SyntaxLevel};
use stagec::llb::lower::LlbOptions;
use stagec::llb::{NetworkMode, SourceInfo};
use stagec::lock::{LockFile, LockNames, Platforms, base_images, check_lock, spec_images_digest};
use stagec::lower::LowerOptions;
use stagec::model::Platform;

const EXAMPLES: [&str; 5] = [
    "go-web",
    "go-static-scratch",
    "static-site",
    "checked-build",
    "multi-output",
];

/// Generates a chain of `stages` stages. Each copies one file from the
/// previous stage and runs one command, and the last one is the image output.
pub fn chain_spec(stages: usize) -> String {
    let mut spec = String::with_capacity(stages * 160);
    spec.push_str(
        "stage \"s0\" from=\"alpine:3\" {\n    run \"echo 0 > /out\"\n    artifact \"out\" path=\"/out\"\n}\n",
    );
    for i in 1..stages {
        spec.push_str(&format!(
            "stage \"s{i}\" from=\"alpine:3\" {{\n    copy artifact=\"out\" from=\"s{}\" to=\"/in\"\n    run \"cat /in > /out; echo {i} >> /out\"\n    artifact \"out\" path=\"/out\"\n}}\n",
            i - 1
        ));
    }
    spec.push_str(&format!("image \"s{}\" tag=\"chain:1.0\"\n", stages - 1));
    spec
}

fn dockerfile(source: &str) -> String {
    let compilation = stagec::compile::check(source);
    assert!(!compilation.has_errors(), "benchmark spec has errors");
    let spec = compilation.spec.as_ref().expect("parsed spec");
    let options = LowerOptions {
        target: None,
        build_args: BTreeMap::new(),
    };
    let graph = stagec::lower::lower(spec, &compilation.graph, &options).expect("lowered");
    let options = DockerfileOptions {
        syntax: SyntaxLevel::DEFAULT,
        spec_path: "app.kdl".into(),
    };
    stagec::dockerfile::emit(&graph, &options).expect("emitted").dockerfile
}

/// Returns linux/amd64 as target and build platform: the platform of the
/// committed lock files, so that the benchmark does not depend on the processor.
fn platforms() -> Platforms {
    let amd64 = Platform::parse("linux/amd64").expect("valid platform");
    Platforms {
        target: amd64.clone(),
        build: amd64,
    }
}

/// A spec and its lock file text, the two inputs of `stagec llb`.
struct LlbInput {
    source: String,
    lock: String,
}

/// Compiles to the marshalled `pb.Definition` of the output stage, with the
/// steps of `stagec llb`: check, lower, parse and check the lock, lower to
/// LLB, marshal with the source map, encode.
fn llb(input: &LlbInput) -> Vec<u8> {
    let compilation = stagec::compile::check(&input.source);
    assert!(!compilation.has_errors(), "benchmark spec has errors");
    let spec = compilation.spec.as_ref().expect("parsed spec");
    let graph = stagec::lower::lower(spec, &compilation.graph, &LowerOptions::default()).expect("lowered");

    let lock = LockFile::parse(&input.lock).expect("valid lock file");
    let needed = base_images(&graph, &platforms()).expect("valid references");
    let names = LockNames {
        spec: "app.kdl".into(),
        lock: Some("app.kdl.lock".into()),
        lock_command: String::new(),
    };
    let problems = check_lock(Some(&lock), &spec_images_digest(spec), &needed, &names);
    assert!(problems.is_empty(), "benchmark lock is stale: {problems:?}");

    let options = LlbOptions {
        platforms: platforms(),
        default_network: NetworkMode::Sandbox,
    };
    let build = stagec::llb::lower::lower(&graph, &lock, &options).expect("lowered to LLB");
    let source = SourceInfo {
        filename: "app.kdl".into(),
        data: &input.source,
        language: "KDL".into(),
    };
    build.definition(build.output, Some(&source)).to_bytes()
}

fn example_input(name: &str) -> LlbInput {
    let source = std::fs::read_to_string(format!("specs/examples/{name}/app.kdl")).expect("example spec");
    let lock = std::fs::read_to_string(format!("specs/examples/{name}/app.kdl.lock")).expect("example lock file");
    LlbInput { source, lock }
}

/// Returns the chain of `stages` stages and its lock file, which contains the
/// `alpine:3` entry of the go-web example's lock under the chain's digest.
fn chain_input(stages: usize) -> LlbInput {
    let source = chain_spec(stages);
    let compilation = stagec::compile::check(&source);
    let spec = compilation.spec.as_ref().expect("parsed spec");

    let example = LockFile::parse(&example_input("go-web").lock).expect("valid lock file");
    let alpine: Vec<_> = example
        .images
        .into_iter()
        .filter(|image| image.reference == "docker.io/library/alpine:3")
        .collect();
    assert_eq!(alpine.len(), 1, "the go-web lock file has one alpine:3 entry");
    let lock = LockFile::new(spec_images_digest(spec), alpine).to_text();
    LlbInput { source, lock }
}

fn examples(c: &mut Criterion) {
    let mut group = c.benchmark_group("example");
    for name in EXAMPLES {
        let input = example_input(name);
        group.bench_with_input(BenchmarkId::new("check", name), &input.source, |b, s| {
            b.iter(|| stagec::compile::check(s))
        });
        group.bench_with_input(BenchmarkId::new("dockerfile", name), &input.source, |b, s| {
            b.iter(|| dockerfile(s))
        });
        group.bench_with_input(BenchmarkId::new("llb", name), &input, |b, input| b.iter(|| llb(input)));
    }
    group.finish();
}

fn chains(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    for stages in [10usize, 100, 1_000, 10_000] {
        let input = chain_input(stages);
        group.throughput(Throughput::Elements(stages as u64));
        group.bench_with_input(BenchmarkId::new("check", stages), &input.source, |b, s| {
            b.iter(|| stagec::compile::check(s))
        });
        group.bench_with_input(BenchmarkId::new("dockerfile", stages), &input.source, |b, s| {
            b.iter(|| dockerfile(s))
        });
        group.bench_with_input(BenchmarkId::new("llb", stages), &input, |b, input| {
            b.iter(|| llb(input))
        });
    }
    group.finish();
}

/// Parses the 1,000-stage chain with stagec's parser and with the `kdl`
/// crate, which `syntax::parse` falls back to for diagnostics only.
fn parsers(c: &mut Criterion) {
    let source = chain_spec(1_000);
    let mut group = c.benchmark_group("parse");
    group.sample_size(10);
    group.throughput(Throughput::Bytes(source.len() as u64));
    group.bench_function("stagec/1000", |b| b.iter(|| stagec::syntax::parse(&source).expect("valid KDL")));
    group.bench_function("kdl_crate/1000", |b| {
        b.iter(|| stagec::syntax::parse_with_kdl_crate(&source).expect("valid KDL"))
    });
    group.finish();
}

criterion_group!(benches, examples, chains, parsers);
criterion_main!(benches);
