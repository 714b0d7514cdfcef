use super::*;

fn v(s: &str) -> Version {
    s.parse().unwrap_or_else(|_| Version::new(vec![0]))
}

fn package(id: &str, requires: &[&str], installable: bool) -> Package {
    let (base, version) = match id.split_once('-') {
        Some(("base", v)) => (true, v),
        Some((_, v)) => (false, v),
        None => (false, id),
    };
    Package {
        id: id.to_owned(),
        base,
        version: version.parse().unwrap_or_else(|_| Version::new(vec![0])),
        requires: requires.iter().map(|s| (*s).to_owned()).collect(),
        installable,
        staged: false,
    }
}

fn base(id: &str) -> RoundPackage {
    RoundPackage {
        id: id.to_owned(),
        base: true,
    }
}

fn product(id: &str) -> RoundPackage {
    RoundPackage {
        id: id.to_owned(),
        base: false,
    }
}

/// The demo's catalogue: 23.3.1 -> 24.3.2 needs base 5.1.0, product 24.1.0, base 5.2.0.
fn catalogue() -> Vec<Package> {
    vec![
        package("product-24.3.2", &["base-5.2.0", "product-24.1.0"], false),
        package("base-5.2.0", &["base-5.1.0"], false),
        package("product-24.1.0", &["base-5.1.0"], false),
        package("base-5.1.0", &[], true),
        package("product-23.3.2", &[], true),
    ]
}

#[test]
fn base_software_comes_right_before_the_product_that_needs_it() {
    let rounds = rounds(&v("23.3.1"), &v("24.3.2"), &catalogue()).ok();
    assert_eq!(
        rounds,
        Some(vec![
            Round {
                product: v("24.1.0"),
                packages: vec![base("base-5.1.0"), product("product-24.1.0")]
            },
            Round {
                product: v("24.3.2"),
                packages: vec![base("base-5.2.0"), product("product-24.3.2")]
            },
        ])
    );
}

#[test]
fn each_intermediate_product_is_a_round_of_its_own_so_the_soak_can_follow_it() {
    let rounds = rounds(&v("23.3.1"), &v("24.3.2"), &catalogue()).unwrap_or_default();
    assert_eq!(
        rounds
            .iter()
            .map(|r| r.product.to_string())
            .collect::<Vec<_>>(),
        ["24.1.0", "24.3.2"]
    );
}

#[test]
fn packages_not_needed_by_the_target_are_left_out() {
    let rounds = rounds(&v("23.3.1"), &v("24.1.0"), &catalogue()).unwrap_or_default();
    assert_eq!(rounds.len(), 1);
    assert!(!rounds[0].packages.iter().any(|p| p.id == "product-23.3.2"));
}

#[test]
fn the_installed_target_needs_no_round() {
    assert_eq!(rounds(&v("24.3.2"), &v("24.3.2"), &[]), Ok(vec![]));
}

#[test]
fn a_downgrade_is_refused_with_what_to_do() {
    let err = rounds(&v("24.3.2"), &v("24.1.0"), &catalogue()).err();
    assert!(matches!(err, Some(PathError::Downgrade { .. })));
    assert!(
        err.map(|e| e.to_string())
            .unwrap_or_default()
            .contains("set spec.version to 24.3.2 or later")
    );
}

#[test]
fn a_target_nobody_offers_is_reported_with_what_is_offered() {
    let err = rounds(&v("23.3.1"), &v("25.1.0"), &catalogue())
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        err.contains("no package installs product version 25.1.0"),
        "{err}"
    );
    assert!(err.contains("24.3.2"), "{err}");
}

#[test]
fn a_first_package_the_appliance_calls_not_installable_blocks_the_plan() {
    let mut packages = catalogue();
    packages.retain(|p| p.id != "base-5.1.0");
    // product-24.1.0 now looks installable by our reading but the appliance says no.
    let err = rounds(&v("23.3.1"), &v("24.1.0"), &packages).err();
    assert!(
        matches!(err, Some(PathError::Blocked { ref package, .. }) if package == "product-24.1.0")
    );
}

#[test]
fn a_prerequisite_cycle_is_reported_not_followed_forever() {
    let packages = vec![
        package("product-2.0.0", &["base-1.0.0"], true),
        package("base-1.0.0", &["product-2.0.0"], true),
    ];
    assert!(matches!(
        rounds(&v("1.0.0"), &v("2.0.0"), &packages),
        Err(PathError::Blocked { .. })
    ));
}
