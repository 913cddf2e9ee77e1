//! The platform build args that BuildKit sets for every build. They are
//! global, so a Dockerfile stage can read one only after `ARG NAME`, like
//! any global arg. A stage with `cross-compile=#true` gets the four `TARGET*`
//! args from the backends, which declare them at the top of the stage.

/// The platform of the machine that runs the build.
pub const BUILD_PLATFORM_ARGS: [&str; 4] = ["BUILDPLATFORM", "BUILDOS", "BUILDARCH", "BUILDVARIANT"];

/// The platform of the image being built.
pub const TARGET_PLATFORM_ARGS: [&str; 4] = ["TARGETPLATFORM", "TARGETOS", "TARGETARCH", "TARGETVARIANT"];

/// Returns whether `name` is an arg that BuildKit sets for every build.
pub fn is_platform_arg(name: &str) -> bool {
    BUILD_PLATFORM_ARGS.contains(&name) || TARGET_PLATFORM_ARGS.contains(&name)
}

/// Returns whether every step of a stage can read `name` without declaring
/// it, which holds for a `TARGET*` arg in a stage with `cross-compile=#true`.
pub fn declared_by_backend(cross_compile: bool, name: &str) -> bool {
    cross_compile && TARGET_PLATFORM_ARGS.contains(&name)
}
