//! End-to-end tests against a real kube-apiserver. One binary, so every test shares one
//! control plane (see `baton_e2e::cluster`).

mod api;
mod apiproxy;
mod atlas;
mod chart;
mod leader;
mod measure;
mod pair;
mod swing;
