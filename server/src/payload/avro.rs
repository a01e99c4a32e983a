//! Avro bodies (the Confluent framing already stripped) decoded with the schema that wrote
//! them, as the Schema Registry holds it, into JSON for reading. The decoding is
//! apache-avro's; this module only says what went wrong in an operator's words.

use apache_avro::{from_avro_datum_schemata, Schema};
use serde_json::Value;

/// A writer's schema, parsed once and kept while its id is cached, with the schemas it
/// references (where its named types are defined).
#[derive(Clone, Debug)]
pub struct AvroSchema {
    schema: Schema,
    references: Vec<Schema>,
}

impl AvroSchema {
    /// The schema's text and the texts of the schemas it references (named types defined
    /// in other subjects), referenced ones first, as the registry lists them.
    pub fn parse(text: &str, references: &[String]) -> Result<AvroSchema, String> {
        if references.is_empty() {
            return Schema::parse_str(text)
                .map(|schema| AvroSchema {
                    schema,
                    references: Vec::new(),
                })
                .map_err(|e| format!("the Avro schema does not parse: {e}"));
        }
        let mut all: Vec<&str> = references.iter().map(String::as_str).collect();
        all.push(text);
        let mut parsed = Schema::parse_list(&all)
            .map_err(|e| format!("the Avro schema with its references does not parse: {e}"))?;
        let schema = parsed.pop().ok_or("the Avro schema is empty")?;
        Ok(AvroSchema {
            schema,
            references: parsed,
        })
    }

    /// The body as JSON. The whole body must be one record of this schema.
    pub fn decode(&self, body: &[u8]) -> Result<Value, String> {
        let mut rest = body;
        let value = from_avro_datum_schemata(
            &self.schema,
            self.references.iter().collect(),
            &mut rest,
            None,
        )
        .map_err(|e| format!("the Avro body does not decode with its schema: {e}"))?;
        if !rest.is_empty() {
            return Err(format!(
                "{} bytes left over after the Avro record: not written with this schema",
                rest.len()
            ));
        }
        Value::try_from(value).map_err(|e| format!("the Avro value has no JSON form: {e}"))
    }

    /// JSON (as [`Self::decode`] gives it, edited) as a body of this schema: the inverse
    /// of `decode`, for an operator's edit-and-resend.
    pub fn encode(&self, json: &Value) -> Result<Vec<u8>, String> {
        let refs: Vec<&Schema> = self.references.iter().collect();
        let value = apache_avro::types::Value::from(json.clone())
            .resolve_schemata(&self.schema, refs.clone())
            .map_err(|e| format!("the edited value does not fit the Avro schema: {e}"))?;
        apache_avro::to_avro_datum_schemata(&self.schema, refs, value)
            .map_err(|e| format!("the edited value does not encode with the Avro schema: {e}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use apache_avro::types::Value as Avro;
    use apache_avro::{to_avro_datum, to_avro_datum_schemata};

    const ORDER: &str = r#"{"type": "record", "name": "OrderPlaced", "namespace": "com.acme",
        "fields": [{"name": "orderId", "type": "string"}, {"name": "totalCents", "type": "long"},
                   {"name": "note", "type": ["null", "string"], "default": null}]}"#;

    fn order(schema: &Schema) -> Vec<u8> {
        let record = Avro::Record(vec![
            ("orderId".into(), Avro::String("ORD-1".into())),
            ("totalCents".into(), Avro::Long(4200)),
            (
                "note".into(),
                Avro::Union(1, Box::new(Avro::String("gift".into()))),
            ),
        ]);
        to_avro_datum(schema, record).unwrap()
    }

    #[test]
    fn a_record_decodes_to_json() {
        let schema = AvroSchema::parse(ORDER, &[]).unwrap();
        let body = order(&schema.schema);
        let v = schema.decode(&body).unwrap();
        assert_eq!(v["orderId"], "ORD-1");
        assert_eq!(v["totalCents"], 4200);
        assert_eq!(v["note"], "gift");
    }

    #[test]
    fn edited_json_encodes_back_with_the_schema() {
        let schema = AvroSchema::parse(ORDER, &[]).unwrap();
        let mut v = schema.decode(&order(&schema.schema)).unwrap();
        v["totalCents"] = 4300.into();
        v["note"] = Value::Null;
        let body = schema.encode(&v).unwrap();
        assert_eq!(schema.decode(&body).unwrap(), v);
        v["totalCents"] = "lots".into();
        assert!(schema
            .encode(&v)
            .unwrap_err()
            .contains("does not fit the Avro schema"));
    }

    #[test]
    fn named_types_from_references_resolve() {
        let address = r#"{"type": "record", "name": "Address", "namespace": "com.acme",
            "fields": [{"name": "city", "type": "string"}]}"#;
        let customer = r#"{"type": "record", "name": "Customer", "namespace": "com.acme",
            "fields": [{"name": "home", "type": "com.acme.Address"}]}"#;
        let schema = AvroSchema::parse(customer, &[address.to_string()]).unwrap();
        let body = to_avro_datum_schemata(
            &schema.schema,
            schema.references.iter().collect(),
            Avro::Record(vec![(
                "home".into(),
                Avro::Record(vec![("city".into(), Avro::String("Oslo".into()))]),
            )]),
        )
        .unwrap();
        assert_eq!(schema.decode(&body).unwrap()["home"]["city"], "Oslo");
    }

    #[test]
    fn wrong_bodies_and_schemas_are_reasons() {
        let schema = AvroSchema::parse(ORDER, &[]).unwrap();
        let mut body = order(&schema.schema);
        body.extend_from_slice(b"junk");
        assert!(schema.decode(&body).unwrap_err().contains("left over"));
        assert!(schema
            .decode(&[0x80])
            .unwrap_err()
            .contains("does not decode"));
        assert!(AvroSchema::parse("{\"type\": \"recrod\"}", &[])
            .unwrap_err()
            .contains("does not parse"));
    }
}
