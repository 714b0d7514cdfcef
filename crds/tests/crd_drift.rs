//! The committed CRD YAML must be exactly what the types generate: users and the Helm chart
//! install the committed files, so a type change without `make crds` would ship a stale schema.

use std::path::Path;

#[test]
fn committed_crds_match_the_types() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("generated");
    for crd in baton_crds::generate::crds() {
        let path = dir.join(baton_crds::generate::file_name(&crd));
        let committed = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}; run `make crds`", path.display()))?;
        let generated = baton_crds::generate::to_yaml(&crd)?;
        if committed != generated {
            similar_asserts::assert_eq!(
                committed,
                generated,
                "{} is stale: run `make crds` and commit the result",
                path.display()
            );
        }
    }
    Ok(())
}
