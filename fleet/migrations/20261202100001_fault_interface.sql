-- The fleet's fault controls as a narrow interface: whoever sets faults (the fleet's own
-- CLI and demo chaos, the console's admin page) reads `fault_settings` and calls
-- `set_fault`; nobody but the fleet touches `faults` itself. The catalogue of faults the
-- fleet understands lives here, once.
CREATE TABLE fault_kinds (
    name        TEXT PRIMARY KEY,
    description TEXT    NOT NULL,
    position    INTEGER NOT NULL
);
INSERT INTO fault_kinds (name, description, position) VALUES
    ('payment_outage', '1 = the payment gateway refuses every call', 1),
    ('inventory_outage', '1 = the warehouse API refuses every call', 2),
    ('shipment_outage', '1 = the carrier API refuses every call', 3),
    ('payment_decline_rate', 'share of payments declined (0–1)', 4),
    ('latency_ms', 'added latency on every dependency call', 5),
    ('notification_poison_rate',
     'share of order.completed messages the notification service cannot handle (0–1)', 6);

-- Every known fault with its current value (0 when never set), in catalogue order.
CREATE VIEW fault_settings AS
SELECT k.name, k.description, COALESCE(f.value, 0)::DOUBLE PRECISION AS value
FROM fault_kinds k LEFT JOIN faults f USING (name)
ORDER BY k.position;

-- Sets one fault; an unknown name is refused (SQLSTATE 22023) and changes nothing.
-- `only_if_unset` keeps a value someone already chose (the fleet's background defaults).
CREATE FUNCTION set_fault(p_name TEXT, p_value DOUBLE PRECISION, only_if_unset BOOLEAN DEFAULT false)
RETURNS VOID LANGUAGE plpgsql AS $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM fleet.fault_kinds WHERE name = p_name) THEN
        RAISE EXCEPTION 'unknown fault %', p_name USING ERRCODE = '22023';
    END IF;
    IF only_if_unset THEN
        INSERT INTO fleet.faults (name, value) VALUES (p_name, p_value)
        ON CONFLICT (name) DO NOTHING;
    ELSE
        INSERT INTO fleet.faults (name, value) VALUES (p_name, p_value)
        ON CONFLICT (name) DO UPDATE SET value = EXCLUDED.value, updated_at = now();
    END IF;
END $$;
