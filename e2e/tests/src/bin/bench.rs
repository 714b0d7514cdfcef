//! `make bench`. See `baton_e2e::bench` and `docs/src/operations/bench.md`.
//!
//! Flags: `--quick` (also `BENCH_QUICK=1`): small counts, a smoke run; `--only
//! reaction,pair,atlas,idle`: some scenarios; `--out <path>` (default
//! `target/bench/report.json`); `--write-doc`: regenerate the tables of the docs page;
//! `--tables`: run nothing, make the tables of the report already there.

use std::process::ExitCode;

use baton_e2e::bench::{self, Options};

#[tokio::main]
async fn main() -> ExitCode {
    let mut options = Options {
        quick: std::env::var("BENCH_QUICK").is_ok_and(|v| !v.is_empty() && v != "0"),
        ..Options::default()
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--quick" => options.quick = true,
            "--write-doc" => options.write_doc = true,
            "--tables" => options.tables_only = true,
            "--only" => match args.next() {
                Some(list) => options.only = list.split(',').map(str::to_owned).collect(),
                None => return usage("--only needs a list"),
            },
            "--out" => match args.next() {
                Some(path) => options.out = path.into(),
                None => return usage("--out needs a path"),
            },
            other => return usage(&format!("unknown argument {other:?}")),
        }
    }
    match bench::run(&options).await {
        Ok(_) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("bench failed: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn usage(problem: &str) -> ExitCode {
    eprintln!(
        "baton-bench: {problem}\nusage: baton-bench [--quick] [--only reaction,pair,atlas,idle] [--out report.json] [--write-doc] [--tables]"
    );
    ExitCode::from(2)
}
