//! Compile-time benchmarks: spec text to diagnostics, to a Dockerfile, and
//! to LLB, for the examples and for generated chains of 10 to 10,000 stages.
//! Run with `cargo bench --bench compile`; docs/benchmarks.md records results.

use std::collections::BTreeMap;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};

use stagec::dockerfile::{DockerfileOptions, SyntaxLevel};
use stagec::lower::LowerOptions;

/// A chain of `stages` stages: each copies one file from the previous stage
/// and runs one command, and the last one is the image output.
pub fn chain_spec(stages: usize) -> String {
    let mut spec = String::with_capacity(stages * 160);
    spec.push_str("stage \"s0\" from=\"alpine:3\" {\n    run \"echo 0 > /out\"\n    artifact \"out\" path=\"/out\"\n}\n");
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
    let options = LowerOptions { target: None, build_args: BTreeMap::new() };
    let graph = stagec::lower::lower(spec, &compilation.graph, &options).expect("lowered");
    let options = DockerfileOptions { syntax: SyntaxLevel::DEFAULT, spec_path: "app.kdl".into() };
    stagec::dockerfile::emit(&graph, &options).expect("emitted").dockerfile
}

fn examples(c: &mut Criterion) {
    let mut group = c.benchmark_group("example");
    for name in ["go-web", "go-static-scratch", "static-site", "checked-build", "multi-output"] {
        let source = std::fs::read_to_string(format!("specs/examples/{name}/app.kdl")).expect("example spec");
        group.bench_with_input(BenchmarkId::new("check", name), &source, |b, s| b.iter(|| stagec::compile::check(s)));
        group.bench_with_input(BenchmarkId::new("dockerfile", name), &source, |b, s| b.iter(|| dockerfile(s)));
    }
    group.finish();
}

fn chains(c: &mut Criterion) {
    let mut group = c.benchmark_group("chain");
    group.sample_size(10);
    for stages in [10usize, 100, 1_000, 10_000] {
        let source = chain_spec(stages);
        group.throughput(Throughput::Elements(stages as u64));
        group.bench_with_input(BenchmarkId::new("check", stages), &source, |b, s| b.iter(|| stagec::compile::check(s)));
        group.bench_with_input(BenchmarkId::new("dockerfile", stages), &source, |b, s| b.iter(|| dockerfile(s)));
    }
    group.finish();
}

criterion_group!(benches, examples, chains);
criterion_main!(benches);
