//! Order invention: customers and baskets for `order.created` events (the `produce`
//! command, the synthetic mix and tests).

use rand::Rng;
use serde_json::json;
use switchyard_contract::Envelope;

const SKUS: &[(&str, i64)] = &[
    ("SKU-KETTLE", 3999),
    ("SKU-MUG", 1250),
    ("SKU-BEANS-1KG", 2490),
    ("SKU-GRINDER", 8900),
    ("SKU-FILTERS", 499),
];

/// A new `order.created` event with a random basket.
pub fn new_order(order_id: &str, rng: &mut impl Rng) -> Envelope {
    let lines = rng.random_range(1..=3);
    let mut items = Vec::new();
    let mut total = 0;
    for _ in 0..lines {
        let (sku, price) = SKUS[rng.random_range(0..SKUS.len())];
        let quantity = rng.random_range(1..=4);
        total += price * quantity;
        items.push(json!({"sku": sku, "quantity": quantity, "unit_price_cents": price}));
    }
    let customer = format!("CUST-{:04}", rng.random_range(1..=500));
    Envelope::new(
        "order.created",
        order_id,
        "order-service",
        json!({"order_id": order_id, "customer_id": customer, "items": items,
               "total_cents": total, "currency": "EUR"}),
    )
}

/// A fresh order id, unique across runs: `ORD-` and 48 random bits.
pub fn new_order_id() -> String {
    let id = uuid::Uuid::new_v4().simple().to_string();
    format!("ORD-{}", id[20..].to_uppercase())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn orders_have_consistent_totals() {
        let mut rng = rand::rng();
        for _ in 0..50 {
            let e = new_order("ORD-1", &mut rng);
            let items = e.data["items"].as_array().unwrap();
            let sum: i64 = items
                .iter()
                .map(|i| i["quantity"].as_i64().unwrap() * i["unit_price_cents"].as_i64().unwrap())
                .sum();
            assert_eq!(e.data["total_cents"].as_i64().unwrap(), sum);
            assert_eq!(e.aggregate_id, "ORD-1");
        }
        assert_ne!(new_order_id(), new_order_id());
    }
}
