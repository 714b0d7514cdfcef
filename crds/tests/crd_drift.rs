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

/// The chart installs CRDs from its templates: they must be the same CRDs, annotated to be
/// kept on uninstall.
#[test]
fn chart_crds_match_the_types() -> Result<(), Box<dyn std::error::Error>> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../charts/baton/templates/crds");
    let mut names = Vec::new();
    for crd in baton_crds::generate::crds() {
        let name = baton_crds::generate::file_name(&crd);
        let path = dir.join(&name);
        let committed = std::fs::read_to_string(&path)
            .map_err(|e| format!("{}: {e}; run `make crds`", path.display()))?;
        let generated = baton_crds::generate::chart_template(&crd)?;
        if committed != generated {
            similar_asserts::assert_eq!(
                committed,
                generated,
                "{} is stale: run `make crds` and commit the result",
                path.display()
            );
        }
        assert!(generated.contains("helm.sh/resource-policy: keep"));
        names.push(name);
    }
    // No CRD template left behind for a kind that is gone.
    let mut present: Vec<String> = std::fs::read_dir(&dir)?
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .collect();
    present.sort();
    names.sort();
    assert_eq!(present, names, "unexpected files in {}", dir.display());
    Ok(())
}

/// The documentation's CRD reference is generated from the same schema.
#[test]
fn crd_reference_page_matches_the_types() -> Result<(), Box<dyn std::error::Error>> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/src/reference/crds.md");
    let committed = std::fs::read_to_string(&path)
        .map_err(|e| format!("{}: {e}; run `make crds`", path.display()))?;
    let generated = baton_crds::reference::markdown(&baton_crds::generate::crds());
    if committed != generated {
        similar_asserts::assert_eq!(
            committed,
            generated,
            "{} is stale: run `make crds` and commit the result",
            path.display()
        );
    }
    Ok(())
}
