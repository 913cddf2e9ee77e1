use super::{Failure, write_stdout};
use super::args::ExplainArgs;
use crate::diag::Code;
use crate::diag::suggest::did_you_mean;

pub fn run(args: &ExplainArgs) -> Result<(), Failure> {
    let Some(code) = Code::parse(args.code.trim()) else {
        let names = Code::ALL.iter().flat_map(|code| [code.info().code, code.info().slug]);
        let hint = match did_you_mean(args.code.trim(), names) {
            Some(suggestion) => format!("; did you mean `{suggestion}`?"),
            None => String::new(),
        };
        return Err(Failure::usage(format!(
            "unknown diagnostic code `{}`{hint} (codes look like SC0101; docs/diagnostics.md lists them all)",
            args.code
        )));
    };
    write_stdout(code.info().explanation.as_bytes())
}
