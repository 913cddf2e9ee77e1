use super::args::CheckArgs;
use super::{Failure, compile_loaded, load_spec, report};

pub fn run(args: &CheckArgs, color: bool) -> Result<(), Failure> {
    let spec = load_spec(&args.spec)?;
    let compilation = compile_loaded(&spec);
    if report(&compilation.diagnostics, &spec, &args.spec, color) {
        return Err(Failure::reported());
    }
    Ok(())
}
