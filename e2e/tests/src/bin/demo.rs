//! `make demo`. See `baton_e2e::demo`.

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match baton_e2e::demo::run().await {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::FAILURE,
        Err(e) => {
            eprintln!("demo failed: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}
