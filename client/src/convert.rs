//! Resources to and from their wire form.

use machined_proto as pb;
use machined_resources::resource::rfc3339;
use machined_resources::{Metadata, Resource};

pub fn to_proto(r: &Resource) -> pb::Resource {
    let m = &r.metadata;
    pb::Resource {
        metadata: Some(pb::Metadata {
            namespace: m.namespace.clone(),
            r#type: m.type_.clone(),
            id: m.id.clone(),
            version: m.version,
            owner: m.owner.clone(),
            created: rfc3339::format(m.created),
            updated: rfc3339::format(m.updated),
            labels: m.labels.clone().into_iter().collect(),
        }),
        spec_json: r.spec.to_string(),
    }
}

/// Decodes a resource from the wire. `None` if it is malformed.
pub fn from_proto(r: &pb::Resource) -> Option<Resource> {
    let m = r.metadata.as_ref()?;
    Some(Resource {
        metadata: Metadata {
            namespace: m.namespace.clone(),
            type_: m.r#type.clone(),
            id: m.id.clone(),
            version: m.version,
            owner: m.owner.clone(),
            created: rfc3339::parse(&m.created)?,
            updated: rfc3339::parse(&m.updated)?,
            labels: m.labels.clone().into_iter().collect(),
        },
        spec: serde_json::from_str(&r.spec_json).ok()?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let mut md = Metadata::new("network", "LinkStatus", "eth0", "ctl");
        md.version = 3;
        md.labels.insert("a".into(), "b".into());
        let r = Resource {
            metadata: md,
            spec: serde_json::json!({"mtu": 1500}),
        };
        let back = from_proto(&to_proto(&r)).unwrap();
        assert_eq!(back.spec, r.spec);
        assert_eq!(back.metadata.version, 3);
        assert_eq!(back.metadata.labels, r.metadata.labels);
        let ms =
            |t: std::time::SystemTime| t.duration_since(std::time::UNIX_EPOCH).unwrap().as_millis();
        assert_eq!(ms(back.metadata.created), ms(r.metadata.created));
    }
}
