//! Writes the CRD YAML into `crds/generated/` (or the directory given as the first argument).
//! `make crds` runs it; a test fails when the committed files differ from what it writes.

use std::path::PathBuf;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("generated"));
    std::fs::create_dir_all(&dir)?;
    for crd in baton_crds::generate::crds() {
        let path = dir.join(baton_crds::generate::file_name(&crd));
        std::fs::write(&path, baton_crds::generate::to_yaml(&crd)?)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}
