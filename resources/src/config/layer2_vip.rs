//! `kind: Layer2VIPConfig`: a VIP as its own document (Talos's newer
//! form of `machine.network.interfaces[].vip`), with our `machined` block.

use super::kinds::{DocumentKind, Gathered};
use super::model::Layer2Vip;
use super::values::{check_link_name, parse_ip};
use super::vip_options::vip_options;
use super::walk::{Diag, Obj};
use yaml_serde::Value;

pub(super) struct Layer2VipConfig;

impl DocumentKind for Layer2VipConfig {
    fn kind(&self) -> &'static str {
        "Layer2VIPConfig"
    }

    fn read(&self, doc: &Value, path: &str, g: &mut Gathered, d: &mut Diag) {
        g.layer2_vips.extend(layer2_vip(doc, path, d));
    }
}

/// `kind: Layer2VIPConfig` document.
fn layer2_vip(doc: &Value, path: &str, d: &mut Diag) -> Option<Layer2Vip> {
    let mut o = Obj::new(Some(doc), path, d);
    o.accept(&["apiVersion", "kind"]);
    let ip = match o.string("name", d) {
        Some(s) => parse_ip(&s, &o.path("name"), d),
        None => {
            d.error(o.path("name"), "is required (the VIP address)");
            None
        }
    };
    let link = o.string("link", d);
    match &link {
        Some(l) => check_link_name(l, &o.path("link"), d),
        None => d.error(o.path("link"), "is required (the link to hold the VIP on)"),
    }
    let options = vip_options(&mut o, d);
    o.finish(d);
    Some(Layer2Vip {
        ip: ip?,
        link: link?,
        options,
    })
}
