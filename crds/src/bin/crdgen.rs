//! Writes what the CRD types generate: the CRD YAML into `crds/generated/` (or the directory
//! given as the first argument), the Helm chart's CRD templates into
//! `charts/baton/templates/crds/` and the reference page into `docs/src/reference/crds.md`.
//! `make crds` runs it; tests fail when the committed files differ from what it writes.

use std::path::{Path, PathBuf};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    let repo = crate_dir.join("..");
    let dir = std::env::args()
        .nth(1)
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir.join("generated"));
    let chart = repo.join("charts/baton/templates/crds");
    std::fs::create_dir_all(&dir)?;
    std::fs::create_dir_all(&chart)?;
    let crds = baton_crds::generate::crds();
    for crd in &crds {
        let name = baton_crds::generate::file_name(crd);
        write(&dir.join(&name), &baton_crds::generate::to_yaml(crd)?)?;
        write(
            &chart.join(&name),
            &baton_crds::generate::chart_template(crd)?,
        )?;
    }
    write(
        &repo.join("docs/src/reference/crds.md"),
        &baton_crds::reference::markdown(&crds),
    )?;
    Ok(())
}

fn write(path: &Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)?;
    println!("wrote {}", path.display());
    Ok(())
}
